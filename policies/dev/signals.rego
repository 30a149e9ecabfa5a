# data.starfly.signal - dev bundle: every event is accepted; CAEP
# session-revoked revokes the subject's tokens (claims.revoke_tokens).
package starfly.signal

import rego.v1

default allow := true

session_revoked := "https://schemas.openid.net/secevent/caep/event-type/session-revoked"

claims.revoke_tokens := true if session_revoked in input.context.event_types
