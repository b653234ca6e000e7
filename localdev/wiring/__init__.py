"""Wiring the cloud side of completion signalled by OBS notifications (``make wire-notifications``).

Local tooling, never deployed. One module per concern: ``inputs`` (what the command is given, checked
before any call), ``connection`` (the cloud from clouds.yaml or ``OS_*``: an IAM token, temporary OBS
credentials, the endpoints), ``smn_client`` (SMN's topic API), ``topic_policy`` (the statement that lets
OBS publish), ``bucket_notification`` (the bucket's event notification configuration), ``plan`` (what
differs, in order, and its undoing) and ``cli``.

Sources the requests are built to (each module names its own):

- SMN API reference, OTC: github.com/opentelekomcloud-docs/simple-message-notification,
  ``api-ref/source/apis/topic_operations/`` (creating_a_topic, querying_topics, querying_a_topic_policy,
  updating_a_topic_policy, deleting_a_specified_topic_policy, deleting_a_topic),
  ``api-ref/source/apis/subscription_operations/`` (adding_a_subscription,
  querying_subscriptions_of_a_specified_topic, deleting_a_subscription),
  ``api-ref/source/public_parameters/error_codes.rst``, ``api-ref/source/appendix/topic_attribute_list.rst``;
  Huawei Cloud: https://support.huaweicloud.com/api-smn/smn_api_51001.html and the same paths in
  github.com/huaweicloud/huaweicloud-sdk-python-v3 ``huaweicloud-sdk-smn/huaweicloudsdksmn/v2/smn_client.py``.
- SMN's HTTP(S) messages (the confirmation a new subscription gets): OTC SMN user guide,
  ``umn/source/appendix/http_https_messages/http_or_https_message_format.rst``.
- OBS API reference, OTC: github.com/opentelekomcloud-docs/object-storage-service,
  ``api-ref/source/apis/advanced_bucket_settings/configuring_event_notification_for_a_bucket.rst`` and
  ``obtaining_the_event_notification_configuration_of_a_bucket.rst`` (Huawei: obs_04_0039, obs_04_0040,
  https://support.huaweicloud.com/intl/en-us/api-obs/obs_04_0039.html); the console guide's
  ``umn/source/obs_console_operation_guide/event_notifications/`` (a topic must authorise OBS; deleting
  it clears the bucket's notifications that name it).
"""
