-- signals.lua - wrk script: POST a new dev-mode SET (plain JSON, a fresh
-- jti and subject each time) to /v1/signals/events; or, with SETS_FILE,
-- the next compact SET of that file (application/secevent+jwt).  Threads
-- take interleaved lines (WRK_THREADS of them), so no SET is sent twice
-- until the file runs out.
local counter = 0
local sets = nil
local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
local next_tid = 0

function setup(thread)
	thread:set("tid", next_tid)
	next_tid = next_tid + 1
end

function init(args)
	local f = os.getenv("SETS_FILE")
	if f and f ~= "" then
		sets = {}
		for line in io.lines(f) do
			sets[#sets + 1] = line
		end
	end
end

request = function()
	local me = tid or 0
	counter = counter + 1
	if sets then
		local i = ((counter - 1) * nthreads + me) % #sets + 1
		return wrk.format("POST", nil,
		    { ["Content-Type"] = "application/secevent+jwt" }, sets[i])
	end
	local id = string.format("bench-%d-%d-%d", os.time(), me, counter)
	local body = string.format('{"iss":"https://bench.test","jti":"%s",' ..
	    '"iat":%d,"sub_id":{"format":"uri","uri":"wimse://dev.local/ns/bench/sa/%s"},' ..
	    '"events":{"https://schemas.openid.net/secevent/risc/event-type/account-disabled":{}}}',
	    id, os.time(), id)
	return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
