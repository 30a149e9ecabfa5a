package v

p if {
	x := input.y[_]
	not x == 2
	y := {k: v | some k, v in input.z}
}
