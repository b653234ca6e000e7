"""Local development tooling for ims-export: emulators and runners, never deployed."""
