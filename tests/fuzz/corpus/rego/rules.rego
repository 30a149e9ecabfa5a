package t
import rego.v1
default allow := false
xs := [1, 2, 3]
s contains x if some x in xs
o[k] := v if { some k, v in {"a": 1} }
f(x) := y if y := x + 1
allow if { every x in xs { x > 0 }; f(1) == 2; not q }
q if count(s) > 5
r := v if { v := [y | y := xs[_]; y > 1] } else := 0
a.b[c].d := 1 if c := "e"
w := z if { z := count(xs) with xs as [1] }
