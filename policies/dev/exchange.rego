# data.starfly.exchange - dev bundle: every exchange is allowed.
package starfly.exchange

import rego.v1

default allow := true

reason := "dev mode: all exchanges allowed"
