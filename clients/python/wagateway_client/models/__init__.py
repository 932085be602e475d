"""Contains all the data models used in inputs/outputs"""

from .admin_app_list import AdminAppList
from .admin_app_out import AdminAppOut
from .admin_app_out_call_policy_type_0 import AdminAppOutCallPolicyType0
from .admin_app_out_pacing_type_0 import AdminAppOutPacingType0
from .admin_app_update import AdminAppUpdate
from .admin_app_update_presence_mode_type_0 import AdminAppUpdatePresenceModeType0
from .app_create import AppCreate
from .app_create_engine import AppCreateEngine
from .app_out import AppOut
from .app_out_call_policy_type_0 import AppOutCallPolicyType0
from .app_out_pacing_type_0 import AppOutPacingType0
from .app_token_out import AppTokenOut
from .app_update import AppUpdate
from .app_update_presence_mode_type_0 import AppUpdatePresenceModeType0
from .attempt_out import AttemptOut
from .block_out import BlockOut
from .blocked_contact import BlockedContact
from .blocklist_out import BlocklistOut
from .button import Button
from .call_placed import CallPlaced
from .call_policy_in import CallPolicyIn
from .call_request import CallRequest
from .call_request_outcome import CallRequestOutcome
from .chat_list import ChatList
from .chat_out import ChatOut
from .chat_presence_out import ChatPresenceOut
from .chat_presence_request import ChatPresenceRequest
from .chat_presence_request_state import ChatPresenceRequestState
from .contact_check_list import ContactCheckList
from .contact_check_out import ContactCheckOut
from .contact_list import ContactList
from .contact_out import ContactOut
from .created_app_out import CreatedAppOut
from .delivery_list import DeliveryList
from .delivery_out import DeliveryOut
from .delivery_out_payload import DeliveryOutPayload
from .device_create import DeviceCreate
from .device_list import DeviceList
from .device_out import DeviceOut
from .device_out_call_policy_type_0 import DeviceOutCallPolicyType0
from .device_out_pacing_type_0 import DeviceOutPacingType0
from .device_update import DeviceUpdate
from .device_update_presence_mode_type_0 import DeviceUpdatePresenceModeType0
from .edit_request import EditRequest
from .endpoint_created import EndpointCreated
from .endpoint_delivery_out import EndpointDeliveryOut
from .endpoint_in import EndpointIn
from .endpoint_list import EndpointList
from .endpoint_out import EndpointOut
from .endpoint_secret_rotated import EndpointSecretRotated
from .endpoint_update import EndpointUpdate
from .error_detail import ErrorDetail
from .error_detail_details import ErrorDetailDetails
from .error_envelope import ErrorEnvelope
from .group_create import GroupCreate
from .group_event_applied import GroupEventApplied
from .group_event_request import GroupEventRequest
from .group_event_request_action import GroupEventRequestAction
from .group_list import GroupList
from .group_out import GroupOut
from .group_participant_out import GroupParticipantOut
from .group_update import GroupUpdate
from .health_out import HealthOut
from .health_out_checks import HealthOutChecks
from .health_out_checks_additional_property import HealthOutChecksAdditionalProperty
from .health_out_status import HealthOutStatus
from .history_request import HistoryRequest
from .history_sent import HistorySent
from .inbound_accepted import InboundAccepted
from .inbound_request import InboundRequest
from .inbound_request_state_type_0 import InboundRequestStateType0
from .inbound_request_type import InboundRequestType
from .invite_link_out import InviteLinkOut
from .join_request import JoinRequest
from .left_out import LeftOut
from .limits_out import LimitsOut
from .limits_update import LimitsUpdate
from .message_list import MessageList
from .message_out import MessageOut
from .message_out_content import MessageOutContent
from .message_out_error_type_0 import MessageOutErrorType0
from .network_entry_out import NetworkEntryOut
from .network_entry_out_preview_type_0 import NetworkEntryOutPreviewType0
from .network_log import NetworkLog
from .own_profile_out import OwnProfileOut
from .own_profile_request import OwnProfileRequest
from .pacing_update import PacingUpdate
from .pair_request import PairRequest
from .pairing_code_request import PairingCodeRequest
from .participant_change_out import ParticipantChangeOut
from .participants_out import ParticipantsOut
from .participants_request import ParticipantsRequest
from .participants_request_action import ParticipantsRequestAction
from .picture_source import PictureSource
from .presence_out import PresenceOut
from .presence_request import PresenceRequest
from .presence_request_state import PresenceRequestState
from .presence_state_out import PresenceStateOut
from .profile_out import ProfileOut
from .received_list import ReceivedList
from .received_out import ReceivedOut
from .redeliver_all_out import RedeliverAllOut
from .revoke_request import RevokeRequest
from .revoke_response_revoke_sandbox_devices_device_id_revoke_post import (
    RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost,
)
from .scan_request import ScanRequest
from .secret_rotate import SecretRotate
from .send_accepted import SendAccepted
from .send_accepted_error_type_0 import SendAcceptedErrorType0
from .send_message_request import SendMessageRequest
from .send_message_request_type import SendMessageRequestType
from .session_list import SessionList
from .session_out import SessionOut
from .ticket_out import TicketOut
from .token_rotate import TokenRotate
from .webhook_secret_out import WebhookSecretOut

__all__ = (
    "AdminAppList",
    "AdminAppOut",
    "AdminAppOutCallPolicyType0",
    "AdminAppOutPacingType0",
    "AdminAppUpdate",
    "AdminAppUpdatePresenceModeType0",
    "AppCreate",
    "AppCreateEngine",
    "AppOut",
    "AppOutCallPolicyType0",
    "AppOutPacingType0",
    "AppTokenOut",
    "AppUpdate",
    "AppUpdatePresenceModeType0",
    "AttemptOut",
    "BlockedContact",
    "BlocklistOut",
    "BlockOut",
    "Button",
    "CallPlaced",
    "CallPolicyIn",
    "CallRequest",
    "CallRequestOutcome",
    "ChatList",
    "ChatOut",
    "ChatPresenceOut",
    "ChatPresenceRequest",
    "ChatPresenceRequestState",
    "ContactCheckList",
    "ContactCheckOut",
    "ContactList",
    "ContactOut",
    "CreatedAppOut",
    "DeliveryList",
    "DeliveryOut",
    "DeliveryOutPayload",
    "DeviceCreate",
    "DeviceList",
    "DeviceOut",
    "DeviceOutCallPolicyType0",
    "DeviceOutPacingType0",
    "DeviceUpdate",
    "DeviceUpdatePresenceModeType0",
    "EditRequest",
    "EndpointCreated",
    "EndpointDeliveryOut",
    "EndpointIn",
    "EndpointList",
    "EndpointOut",
    "EndpointSecretRotated",
    "EndpointUpdate",
    "ErrorDetail",
    "ErrorDetailDetails",
    "ErrorEnvelope",
    "GroupCreate",
    "GroupEventApplied",
    "GroupEventRequest",
    "GroupEventRequestAction",
    "GroupList",
    "GroupOut",
    "GroupParticipantOut",
    "GroupUpdate",
    "HealthOut",
    "HealthOutChecks",
    "HealthOutChecksAdditionalProperty",
    "HealthOutStatus",
    "HistoryRequest",
    "HistorySent",
    "InboundAccepted",
    "InboundRequest",
    "InboundRequestStateType0",
    "InboundRequestType",
    "InviteLinkOut",
    "JoinRequest",
    "LeftOut",
    "LimitsOut",
    "LimitsUpdate",
    "MessageList",
    "MessageOut",
    "MessageOutContent",
    "MessageOutErrorType0",
    "NetworkEntryOut",
    "NetworkEntryOutPreviewType0",
    "NetworkLog",
    "OwnProfileOut",
    "OwnProfileRequest",
    "PacingUpdate",
    "PairingCodeRequest",
    "PairRequest",
    "ParticipantChangeOut",
    "ParticipantsOut",
    "ParticipantsRequest",
    "ParticipantsRequestAction",
    "PictureSource",
    "PresenceOut",
    "PresenceRequest",
    "PresenceRequestState",
    "PresenceStateOut",
    "ProfileOut",
    "ReceivedList",
    "ReceivedOut",
    "RedeliverAllOut",
    "RevokeRequest",
    "RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost",
    "ScanRequest",
    "SecretRotate",
    "SendAccepted",
    "SendAcceptedErrorType0",
    "SendMessageRequest",
    "SendMessageRequestType",
    "SessionList",
    "SessionOut",
    "TicketOut",
    "TokenRotate",
    "WebhookSecretOut",
)
