-- exchange.lua - wrk script: POST the JSON body in $BODY_FILE to the
-- path given on the command line.
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
