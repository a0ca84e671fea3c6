-- wrk script for one server and one workload, configured by the file named in $BENCH_SPEC:
--   header<TAB>Name<TAB>Value
--   body<TAB>weight<TAB>rows<TAB>/path/to/body.json
-- One body: wrk sends it as the static request. Several: request() picks one per request by
-- weight, from a fixed seed per thread (the mixed-size workload).
-- done() prints one machine-readable line: BENCH_RESULT {json}. wrk counts a response with
-- status > 399 as a "status" error; connect/read/write/timeout are socket errors.

local bodies = {}
local total_weight = 0

local function read_file(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. path)
  local data = f:read("*a")
  f:close()
  return data
end

local spec = assert(os.getenv("BENCH_SPEC"), "BENCH_SPEC is not set")
for line in io.lines(spec) do
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do
    fields[#fields + 1] = field
  end
  if fields[1] == "header" then
    wrk.headers[fields[2]] = fields[3]
  elseif fields[1] == "body" then
    local weight = tonumber(fields[2])
    total_weight = total_weight + weight
    bodies[#bodies + 1] = { weight = weight, rows = tonumber(fields[3]), body = read_file(fields[4]) }
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- per-thread counters, read by done() through thread:get()
sent = 0
rows_sent = 0

if #bodies == 1 then
  wrk.body = bodies[1].body
else
  local prepared = {}
  function init(args)
    math.randomseed(1000 + (id or 0))
    for i, b in ipairs(bodies) do
      prepared[i] = wrk.format(nil, nil, nil, b.body)
    end
  end

  function request()
    local r = math.random() * total_weight
    local i = 1
    while i < #bodies and r >= bodies[i].weight do
      r = r - bodies[i].weight
      i = i + 1
    end
    sent = sent + 1
    rows_sent = rows_sent + bodies[i].rows
    return prepared[i]
  end
end

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local n, rows = 0, 0
  for _, t in ipairs(threads) do
    n = n + (t:get("sent") or 0)
    rows = rows + (t:get("rows_sent") or 0)
  end
  local rows_per_request = bodies[1].rows
  if #bodies > 1 and n > 0 then
    rows_per_request = rows / n
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"rows_per_request":%.4f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, rows_per_request))
end
