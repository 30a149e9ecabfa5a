package u

p := sprintf("%v", [{"a": {1, 2}}])
q := regex.match("^a+$", "aaa")
r := object.union({"a": 1}, {"b": 2})
