"""What wiring OBS notifications to the stack takes, read from the cloud as it is: the changes, in the
order they must be made, and what is already right.

Wiring, four pieces: (1) the SMN topic, (2) a statement in its policy that lets OBS publish, (3) the
subscription of the stack's SMN endpoint, (4) the bucket's event notification (``ObjectCreated:*`` under
the prefix of the object pattern, to the topic). Each is changed only where it differs; other statements,
subscriptions and notification configurations are kept.

Undoing takes out what wiring puts in, in the reverse order: the bucket's configuration of this command's
Id, the endpoint's subscription, the policy statement of this command's Sid, and the topic only if this
command made it (its display name says so) and nothing else uses it: no other subscription, no other
policy statement, no other of the bucket's configurations naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from localdev.wiring.bucket_notification import (
    CONFIGURATION_ID,
    BucketNotificationClient,
    TopicRule,
    wanted_rule,
)
from localdev.wiring.inputs import WiringInputs
from localdev.wiring.smn_client import SmnClient, SubscriptionInfo
from localdev.wiring.topic_policy import (
    STATEMENT_ID,
    has_our_statement,
    obs_may_publish,
    read_policy,
    statements,
    with_obs_statement,
    without_obs_statement,
)

# The display name marks a topic this command created: undo deletes no other. SMN allows letters,
# digits, '-' and '_' in it on every cloud.
DISPLAY_NAME = "ims-export-wiring"
REMARK = "ims-export-wiring"


@dataclass(frozen=True)
class Step:
    text: str
    run: Callable[[], object]


@dataclass
class Plan:
    changes: list[Step] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _same_target(rule: TopicRule, wanted: TopicRule) -> bool:
    return (rule.topic, set(rule.events), rule.prefix, rule.suffix) == (
        wanted.topic,
        set(wanted.events),
        wanted.prefix,
        wanted.suffix,
    )


def _others(count: int, what: str) -> str:
    return f" (keeping {count} other {what}{'' if count == 1 else 's'})" if count else ""


class Wiring:
    """Plans against one project's SMN and one bucket; ``topic_urn`` is the URN the topic has or will
    have (``urn:smn:<region>:<project_id>:<name>``)."""

    def __init__(
        self, inputs: WiringInputs, smn: SmnClient, obs: BucketNotificationClient, topic_urn: str
    ) -> None:
        self.inputs = inputs
        self.smn = smn
        self.obs = obs
        self.topic_urn = topic_urn

    def _subscription(self, subscriptions: list[SubscriptionInfo]) -> SubscriptionInfo | None:
        inputs = self.inputs
        return next(
            (
                item
                for item in subscriptions
                if item.protocol == inputs.protocol and item.endpoint == inputs.smn_endpoint
            ),
            None,
        )

    def _create_topic(self) -> None:
        urn = self.smn.create_topic(self.inputs.topic_name, DISPLAY_NAME)
        if urn != self.topic_urn:
            raise RuntimeError(f"SMN created the topic as {urn}, not as {self.topic_urn}: run the plan again")

    def wire(self) -> Plan:
        inputs, smn, plan = self.inputs, self.smn, Plan()
        name = inputs.topic_name
        topic = smn.find_topic(name)
        urn = topic.urn if topic else self.topic_urn
        self.topic_urn = urn
        if topic is None:
            plan.changes.append(Step(f"create SMN topic {name} ({urn})", self._create_topic))
            policy, subscriptions = None, []
        else:
            plan.unchanged.append(f"SMN topic {name} exists ({urn})")
            policy, subscriptions = read_policy(smn.access_policy(urn)), smn.subscriptions(urn)

        sid = obs_may_publish(policy, urn)
        if sid:
            plan.unchanged.append(f"the topic's access policy lets OBS publish (statement {sid})")
        else:
            text = with_obs_statement(policy, urn)
            kept = len([item for item in statements(policy) if item.get("Sid") != STATEMENT_ID])
            plan.changes.append(
                Step(
                    f"let OBS publish to the topic: statement {STATEMENT_ID} in its access policy"
                    + _others(kept, "statement"),
                    lambda: smn.set_access_policy(urn, text),
                )
            )

        subscription = self._subscription(subscriptions)
        endpoint = f"{inputs.protocol} subscription of {inputs.smn_endpoint}"
        if subscription is None:
            plan.changes.append(
                Step(
                    f"subscribe the stack's SMN endpoint to the topic: {endpoint}",
                    lambda: smn.subscribe(urn, inputs.protocol, inputs.smn_endpoint, REMARK),
                )
            )
            plan.notes.append(
                "SMN sends the new subscription a confirmation; the stack's endpoint confirms it, and only "
                "then are messages delivered (make wire-notifications shows its status)"
            )
        elif subscription.confirmed:
            plan.unchanged.append(f"{endpoint} exists, confirmed")
        else:
            plan.unchanged.append(f"{endpoint} exists, not confirmed yet (status {subscription.status})")
            plan.notes.append(
                "the subscription is not confirmed: SMN delivers nothing until the stack's endpoint has "
                "confirmed it (is the stack deployed, and the URL its SmnEndpoint output?)"
            )

        self._wire_bucket(plan, urn)
        if not inputs.prefix:
            plan.notes.append(
                "the object pattern starts with a placeholder: the notification covers every object created "
                "in the bucket (each one an execution of the SMN endpoint); a pattern with a fixed start "
                "such as exports/ narrows it"
            )
        plan.notes.append(f"the stack acts on the topic's messages only if SmnAllowedTopicUrns lists {urn}")
        return plan

    def _wire_bucket(self, plan: Plan, urn: str) -> None:
        bucket = self.inputs.bucket
        configuration = self.obs.read(bucket)
        wanted = wanted_rule(urn, self.inputs.prefix)
        others = configuration.other_rules()
        equivalent = next((rule for rule in others if _same_target(rule, wanted)), None)
        if configuration.ours == wanted:
            plan.unchanged.append(f"bucket {bucket} notifies {wanted.describe()} ({CONFIGURATION_ID})")
        elif configuration.ours is None and equivalent is not None:
            plan.unchanged.append(
                f"bucket {bucket} notifies {wanted.describe()} (its configuration {equivalent.id!r})"
            )
        else:
            body = configuration.with_rule(wanted)
            verb = "replace" if configuration.ours else "add"
            plan.changes.append(
                Step(
                    f"{verb} bucket {bucket}'s event notification {CONFIGURATION_ID}: {wanted.describe()}"
                    + _others(len(configuration.others), "configuration"),
                    lambda: self.obs.write(bucket, body),
                )
            )
            plan.notes.append("OBS sends the topic a test notification when the bucket's notification is set")

    def undo(self, *, shared: bool = False) -> Plan:
        """Take out the bucket's event notification; with ``shared``, the topic's subscription, policy
        statement and the topic too. Those may serve other buckets wired to the same topic, which this
        command cannot see: without ``shared`` they stay, and the plan says so."""
        inputs, smn, plan = self.inputs, self.smn, Plan()
        bucket = inputs.bucket
        configuration = self.obs.read(bucket)
        if configuration.ours is not None:
            body = configuration.with_rule(None)
            plan.changes.append(
                Step(
                    f"remove bucket {bucket}'s event notification {CONFIGURATION_ID}"
                    + _others(len(configuration.others), "configuration"),
                    lambda: self.obs.write(bucket, body),
                )
            )
        else:
            plan.unchanged.append(f"bucket {bucket} has no event notification {CONFIGURATION_ID}")
        if not shared:
            plan.unchanged.append(
                f"SMN topic {inputs.topic_name}, its subscription of {inputs.smn_endpoint} and its policy "
                f"statement {STATEMENT_ID} are kept: other buckets may be wired to the topic (UNDO=all "
                "takes them out too)"
            )
            return plan
        topic = smn.find_topic(inputs.topic_name)
        if topic is None:
            plan.unchanged.append(f"there is no SMN topic {inputs.topic_name}")
            return plan
        urn = topic.urn
        policy, subscriptions = read_policy(smn.access_policy(urn)), smn.subscriptions(urn)

        subscription = self._subscription(subscriptions)
        if subscription is not None:
            plan.changes.append(
                Step(
                    f"delete the {inputs.protocol} subscription of {inputs.smn_endpoint}",
                    lambda: smn.unsubscribe(subscription.urn),
                )
            )
        else:
            plan.unchanged.append(f"the topic has no subscription of {inputs.smn_endpoint}")

        foreign_statements = [item for item in statements(policy) if item.get("Sid") != STATEMENT_ID]
        if has_our_statement(policy):
            remaining = without_obs_statement(policy)
            if remaining is None:
                step = Step(
                    f"delete the topic's access policy (statement {STATEMENT_ID} was its only one)",
                    lambda: smn.delete_access_policy(urn),
                )
            else:
                step = Step(
                    f"remove statement {STATEMENT_ID} from the topic's access policy"
                    + _others(len(foreign_statements), "statement"),
                    lambda: smn.set_access_policy(urn, remaining),
                )
            plan.changes.append(step)
        else:
            plan.unchanged.append(f"the topic's access policy has no statement {STATEMENT_ID}")

        reasons = []
        if topic.display_name != DISPLAY_NAME:
            reasons.append(f"this command did not create it (its display name is not {DISPLAY_NAME})")
        if other_subscriptions := [item for item in subscriptions if item is not subscription]:
            reasons.append(f"{len(other_subscriptions)} other subscription(s)")
        if foreign_statements:
            reasons.append(f"{len(foreign_statements)} other policy statement(s)")
        if [rule for rule in configuration.other_rules() if rule.topic == urn]:
            reasons.append(f"other event notifications of bucket {bucket} name it")
        if reasons:
            plan.unchanged.append(f"SMN topic {topic.name} is kept: {'; '.join(reasons)}")
        else:
            plan.changes.append(Step(f"delete SMN topic {topic.name} ({urn})", lambda: smn.delete_topic(urn)))
        return plan
