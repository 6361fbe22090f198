-- authzen_batch.lua - wrk script: POST /access/v1/evaluations with batches
-- of 100 evaluations for `charter serve` (bench/http/bench_http.sh). The
-- PEP token comes from the CHARTER_PEP_TOKEN environment variable.
--
-- Each wrk thread builds 64 batches at start from a fixed-seed generator
-- (amounts and countries vary, so evaluations are allowed, escalated or
-- denied by a boundary) and sends them in turn. Every evaluation is a
-- decision recorded in the ledger before the batch is answered.
local token = os.getenv("CHARTER_PEP_TOKEN")
local countries = {"SE", "DE", "FR", "NL", "XX"}
local counter = 0
local batches, n

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(4242 + id)
  n = 0
  batches = {}
  for b = 1, 64 do
    local evals = {}
    for i = 1, 100 do
      evals[i] = string.format(
        '{"action":{"name":"issue_refund","properties":{"amount":%d,"country":"%s"}},' ..
        '"resource":{"type":"refunds","id":"order-%d-%d-%d"}}',
        math.random(1, 400), countries[math.random(#countries)], id, b, i)
    end
    local body = '{"subject":{"type":"agent","id":"support-bot"},' ..
      '"evaluations":[' .. table.concat(evals, ",") .. ']}'
    batches[b] = wrk.format("POST", "/access/v1/evaluations",
      {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
  end
end

function request()
  n = n % #batches + 1
  return batches[n]
end
