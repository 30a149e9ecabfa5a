# data.starfly.signal - dev bundle: accept every event; the receiver's
# event table decides what is revoked or lifted (README: Signals).
#
# Obligations the receiver reads from claims: revoke_tokens (true forces a
# revocation, false suppresses one), revoke_ttl (seconds).
package starfly.signal

default allow := true
