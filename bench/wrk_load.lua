-- wrk script for bench/pledge_load.py (driven by environment variables; see bench/README.md).
--
-- BENCH_MODE    get     plain GET of the URL's path (the bare "ok" view)
--               pledge  POST {"amount_cents": n} with "Authorization: Token ..." (the site's API)
--               bare    POST {"user": i, "amount_cents": n} without auth (bench/bareview.py's SQL view)
-- BENCH_TOKENS  file with one API token per line (pledge mode; user i is line i)
-- BENCH_USERS   number of users (bare mode)
-- BENCH_REPLAY  share of requests that resend an earlier key of the same thread (default 0.1)
-- BENCH_RUN     prefix that makes this run's keys unique
-- BENCH_OUT     where done() writes the results
-- BENCH_COOKIE  get mode: a Cookie header to send (a signed-in reader's session)
-- BENCH_FUND_IDS  pledge mode: comma-separated fund ids to spread the pledges over; each new
--               request picks one at random and goes to BENCH_PATH with "{fund}" replaced by
--               its id. Unset or empty: every request goes to the URL's path (one fund).
-- BENCH_PATH    the path template for BENCH_FUND_IDS (default /api/v1/funds/{fund}/pledges/)
--
-- Every new request gets a fresh Idempotency-Key "<run>-<thread>-<n>"; a replay resends an
-- earlier request of the same thread byte for byte (same path, user, key and amount).
--
-- done() writes, besides the totals: "status <code> <count>", "answered <pledge id>" for each
-- 201, and "sent <user> <key> <amount>" for each new request; with BENCH_FUND_IDS the sent line
-- also names the fund it went to: "sent <user> <key> <amount> <fund id>".

local mode = os.getenv("BENCH_MODE") or "get"
local replay_share = tonumber(os.getenv("BENCH_REPLAY") or "0.1")
local run_id = os.getenv("BENCH_RUN") or "run"
local out_path = os.getenv("BENCH_OUT") or "/dev/stdout"
local cookie = os.getenv("BENCH_COOKIE") or ""
local path_template = os.getenv("BENCH_PATH") or "/api/v1/funds/{fund}/pledges/"

local fund_ids = {}
local fund_paths = {}
if mode == "pledge" then
   for id in string.gmatch(os.getenv("BENCH_FUND_IDS") or "", "%d+") do
      table.insert(fund_ids, id)
      table.insert(fund_paths, (string.gsub(path_template, "{fund}", id)))
   end
end

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("tid", thread_count)
   table.insert(threads, thread)
end

function init(args)
   -- Per-thread state (each wrk thread has its own Lua state).
   seq = 0
   replays = 0
   history = {}
   statuses = {}
   answered = {}
   sent = {}
   tokens = {}
   if mode == "pledge" then
      for line in io.lines(os.getenv("BENCH_TOKENS")) do
         if #line > 0 then table.insert(tokens, line) end
      end
      users = #tokens
   else
      users = tonumber(os.getenv("BENCH_USERS") or "1")
   end
   math.randomseed(os.time() * 1000 + tid)
end

local function build(entry)
   local user, key, amount = entry[1], entry[2], entry[3]
   local path = nil  -- the URL's path
   if entry[4] then path = fund_paths[entry[4]] end
   local headers = {["Content-Type"] = "application/json", ["Idempotency-Key"] = key}
   local body
   if mode == "pledge" then
      headers["Authorization"] = "Token " .. tokens[user]
      body = '{"amount_cents": ' .. amount .. '}'
   else
      body = '{"user": ' .. user .. ', "amount_cents": ' .. amount .. '}'
   end
   return wrk.format("POST", path, headers, body)
end

function request()
   if mode == "get" then
      if #cookie > 0 then return wrk.format("GET", nil, {["Cookie"] = cookie}) end
      return wrk.format("GET")
   end
   if #history > 0 and math.random() < replay_share then
      replays = replays + 1
      return build(history[math.random(#history)])
   end
   seq = seq + 1
   local entry = {math.random(users), run_id .. "-" .. tid .. "-" .. seq, 100 + math.random(0, 400)}
   local line = entry[1] .. " " .. entry[2] .. " " .. entry[3]
   if #fund_ids > 0 then
      entry[4] = math.random(#fund_ids)  -- a replay of this entry resends it to the same fund
      line = line .. " " .. fund_ids[entry[4]]
   end
   table.insert(history, entry)
   table.insert(sent, line)
   return build(entry)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 201 then
      local id = body:match('"id"%s*:%s*(%d+)')
      if id then table.insert(answered, id) end
   end
end

function done(summary, latency, requests)
   local f = assert(io.open(out_path, "w"))
   f:write(string.format("requests %d\n", summary.requests))
   f:write(string.format("duration_us %d\n", summary.duration))
   for _, name in ipairs({"connect", "read", "write", "status", "timeout"}) do
      f:write(string.format("error_%s %d\n", name, summary.errors[name]))
   end
   for _, p in ipairs({50, 90, 99, 99.9}) do
      f:write(string.format("latency_p%s_us %d\n", p, latency:percentile(p)))
   end
   f:write(string.format("latency_mean_us %f\n", latency.mean))
   f:write(string.format("latency_max_us %d\n", latency.max))
   for _, thread in ipairs(threads) do
      f:write(string.format("replays %d\n", thread:get("replays") or 0))
      for status, count in pairs(thread:get("statuses") or {}) do
         f:write(string.format("status %s %d\n", status, count))
      end
      for _, id in ipairs(thread:get("answered") or {}) do
         f:write("answered " .. id .. "\n")
      end
      for _, line in ipairs(thread:get("sent") or {}) do
         f:write("sent " .. line .. "\n")
      end
   end
   f:close()
end
