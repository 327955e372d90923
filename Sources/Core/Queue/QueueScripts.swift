/// The Lua scripts that make every queue transition atomic inside Redis.
///
/// Keys are built from the prefix passed as ARGV[1] (single-node Redis; not cluster-safe by design).
/// Times are the Redis server's clock in microseconds (`TIME`), so every process agrees on them.
/// Job hash fields: id kind queue payload priority max_attempts timeout_ms attempt crashes state token
/// worker created_us started_us idem tenant batch pipeline cancel last_error (`pipeline` is "run|step|child").
enum QueueScripts {
    static let prelude = """
        local P = ARGV[1]
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local function readyScore(prio)
          local seq = redis.call('INCR', P .. ':seq')
          return (9 - tonumber(prio)) * 10000000000000 + seq
        end
        local function wake(q)
          redis.call('LPUSH', P .. ':wake:' .. q, '1')
          redis.call('LTRIM', P .. ':wake:' .. q, 0, 0)
        end
        local function event(id, kind, data)
          local ek = P .. ':events:' .. id
          if redis.call('EXISTS', ek) == 1 then
            redis.call('XADD', ek, 'MAXLEN', '~', 1000, '*', 'type', kind, 'data', data)
            redis.call('EXPIRE', ek, 3600)
          end
        end
        """

    /// ARGV: prefix, unique window ms, then 11 fields per job:
    /// id kind queue payload priority max_attempts timeout_ms delay_ms idem tenant batch pipeline.
    /// Returns the id per job (the existing job's id when the idempotency key was already taken).
    static let enqueue = RedisScript(name: "enqueue", source: prelude + "\n" + """
        local window = ARGV[2]
        local out = {}
        local woke = {}
        local i = 3
        while i + 11 <= #ARGV do
          local id, kind, q, payload, prio = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4]
          local maxa, tmo, delay, idem, tenant, batch = ARGV[i+5], ARGV[i+6], tonumber(ARGV[i+7]), ARGV[i+8], ARGV[i+9], ARGV[i+10]
          local pipeline = ARGV[i+11]
          i = i + 12
          local existing = nil
          if idem ~= '' then
            local ok = redis.call('SET', P .. ':idem:' .. idem, id, 'NX', 'PX', window)
            if not ok then existing = redis.call('GET', P .. ':idem:' .. idem) end
          end
          if existing then
            out[#out + 1] = existing
          else
            local state = 'queued'
            if delay > 0 then state = 'scheduled' end
            redis.call('HSET', P .. ':job:' .. id, 'id', id, 'kind', kind, 'queue', q, 'payload', payload,
              'priority', prio, 'max_attempts', maxa, 'timeout_ms', tmo, 'attempt', 0, 'crashes', 0,
              'state', state, 'token', 0, 'created_us', now, 'idem', idem, 'tenant', tenant, 'batch', batch, 'pipeline', pipeline)
            redis.call('SADD', P .. ':queues', q)
            if delay > 0 then
              redis.call('ZADD', P .. ':delayed:' .. q, now + delay * 1000, id)
            else
              redis.call('ZADD', P .. ':queue:' .. q, readyScore(prio), id)
              if not woke[q] then woke[q] = true; wake(q) end
            end
            out[#out + 1] = id
          end
        end
        return out
        """)

    /// ARGV: prefix, lease ms, worker id, max jobs, queue names in priority order.
    /// Promotes due delayed jobs, honours per-queue concurrency and rate limits, and moves up to `max`
    /// jobs into the in-flight set with a fresh fencing token each.
    /// Returns {next delayed due µs or -1, then 15 fields per job:
    /// id token queue kind payload priority attempt max_attempts timeout_ms created_us started_us batch tenant crashes idem pipeline}.
    static let lease = RedisScript(name: "lease", source: prelude + "\n" + """
        local lease = tonumber(ARGV[2]) * 1000
        local worker = ARGV[3]
        local max = tonumber(ARGV[4])
        local out = {-1}
        local taken = 0
        local nextDue = -1
        for qi = 5, #ARGV do
          local q = ARGV[qi]
          local dkey, rkey, stat = P .. ':delayed:' .. q, P .. ':queue:' .. q, P .. ':qstat:' .. q
          local due = redis.call('ZRANGEBYSCORE', dkey, '-inf', now, 'LIMIT', 0, 1000)
          for _, id in ipairs(due) do
            redis.call('ZREM', dkey, id)
            local prio = redis.call('HGET', P .. ':job:' .. id, 'priority')
            if prio then
              redis.call('HSET', P .. ':job:' .. id, 'state', 'queued')
              redis.call('ZADD', rkey, readyScore(prio), id)
            end
          end
          local want = max - taken
          if want > 0 then
            local lim = redis.call('HMGET', stat, 'concurrency', 'rate', 'running', 'tokens', 'ts')
            local running = tonumber(lim[3] or '0')
            if lim[1] then want = math.min(want, tonumber(lim[1]) - running) end
            local tokens = nil
            if lim[2] then
              local rate = tonumber(lim[2])
              local cap = math.max(1, rate)
              tokens = tonumber(lim[4] or cap)
              local ts = tonumber(lim[5] or now)
              tokens = math.min(cap, tokens + rate * (now - ts) / 1000000)
              want = math.min(want, math.floor(tokens))
            end
            if want > 0 then
              local popped = redis.call('ZPOPMIN', rkey, want)
              local got = 0
              for j = 1, #popped, 2 do
                local id = popped[j]
                local jk = P .. ':job:' .. id
                local h = redis.call('HMGET', jk, 'kind', 'payload', 'priority', 'attempt', 'max_attempts',
                  'timeout_ms', 'created_us', 'batch', 'tenant', 'crashes', 'idem', 'pipeline')
                if h[1] then
                  local token = redis.call('INCR', P .. ':token')
                  local attempt = tonumber(h[4]) + 1
                  redis.call('HSET', jk, 'state', 'running', 'token', token, 'worker', worker, 'attempt', attempt, 'started_us', now)
                  redis.call('ZADD', P .. ':inflight', now + lease, id)
                  got = got + 1
                  local n = #out
                  out[n+1], out[n+2], out[n+3], out[n+4], out[n+5] = id, token, q, h[1], h[2]
                  out[n+6], out[n+7], out[n+8], out[n+9], out[n+10] = h[3], attempt, h[5], h[6], h[7]
                  out[n+11], out[n+12], out[n+13], out[n+14], out[n+15] = now, h[8], h[9], h[10], h[11]
                  out[n+16] = h[12] or ''
                end
              end
              taken = taken + got
              if got > 0 then redis.call('HINCRBY', stat, 'running', got) end
              if tokens then redis.call('HSET', stat, 'tokens', tokens - got, 'ts', now)
              elseif lim[2] then redis.call('HSET', stat, 'ts', now) end
              -- More work left than this worker took: pass the wake-up on to another idle worker.
              if got == want and redis.call('ZCARD', rkey) > 0 then wake(q) end
            elseif tokens then
              redis.call('HSET', stat, 'tokens', tokens, 'ts', now)
            end
          end
          local first = redis.call('ZRANGE', dkey, 0, 0, 'WITHSCORES')
          if first[2] then
            local d = tonumber(first[2])
            if nextDue < 0 or d < nextDue then nextDue = d end
          end
        end
        out[1] = nextDue
        return out
        """)

    /// ARGV: prefix, grace ms, then pairs id token. Marks each still-owned running job `completing`
    /// (its outcome is about to be committed) and keeps it in flight for `grace` so the reaper can finish
    /// the hand-off if this worker dies. Returns 1 (accepted) or 0 (stale owner, rejected) per job.
    static let fence = RedisScript(name: "fence", source: prelude + "\n" + """
        local grace = tonumber(ARGV[2]) * 1000
        local out = {}
        for i = 3, #ARGV, 2 do
          local id, token = ARGV[i], ARGV[i+1]
          local jk = P .. ':job:' .. id
          local h = redis.call('HMGET', jk, 'token', 'state')
          if h[1] == token and h[2] == 'running' then
            redis.call('HSET', jk, 'state', 'completing')
            redis.call('ZADD', P .. ':inflight', 'XX', now + grace, id)
            out[#out + 1] = 1
          else
            redis.call('HINCRBY', P .. ':stats', 'stale_rejected', 1)
            out[#out + 1] = 0
          end
        end
        return out
        """)

    /// ARGV: prefix, then triples id token outcome. Removes each job whose outcome is committed, counts
    /// batch children and enqueues a batch's callback when its last child finishes. Returns 1 or 0 per job.
    static let ack = RedisScript(name: "ack", source: prelude + "\n" + """
        local out = {}
        for i = 2, #ARGV, 3 do
          local id, token, outcome = ARGV[i], ARGV[i+1], ARGV[i+2]
          local jk = P .. ':job:' .. id
          local h = redis.call('HMGET', jk, 'token', 'state', 'queue', 'batch')
          if h[1] == token and h[2] == 'completing' then
            redis.call('ZREM', P .. ':inflight', id)
            redis.call('HINCRBY', P .. ':qstat:' .. h[3], 'running', -1)
            redis.call('HINCRBY', P .. ':qstat:' .. h[3], 'done_' .. outcome, 1)
            if h[4] and h[4] ~= '' then
              local bk = P .. ':batch:' .. h[4]
              local pending = redis.call('HINCRBY', bk, 'pending', -1)
              if outcome ~= 'succeeded' then redis.call('HINCRBY', bk, 'failed', 1) end
              if pending == 0 then
                local b = redis.call('HMGET', bk, 'cb_id', 'cb_kind', 'cb_queue', 'cb_payload', 'cb_priority',
                  'cb_max_attempts', 'cb_timeout_ms', 'total', 'failed', 'cb_tenant')
                if b[1] and b[1] ~= '' then
                  local payload = cjson.decode(b[4])
                  payload['batch'] = {id = h[4], total = tonumber(b[8]), failed = tonumber(b[9] or '0')}
                  redis.call('HSET', P .. ':job:' .. b[1], 'id', b[1], 'kind', b[2], 'queue', b[3],
                    'payload', cjson.encode(payload), 'priority', b[5], 'max_attempts', b[6], 'timeout_ms', b[7],
                    'attempt', 0, 'crashes', 0, 'state', 'queued', 'token', 0, 'created_us', now, 'idem', '',
                    'tenant', b[10] or '', 'batch', '')
                  redis.call('SADD', P .. ':queues', b[3])
                  redis.call('ZADD', P .. ':queue:' .. b[3], readyScore(b[5]), b[1])
                  wake(b[3])
                end
                redis.call('HSET', bk, 'done', '1')
                redis.call('EXPIRE', bk, 86400)
              end
            end
            event(id, outcome, '')
            redis.call('DEL', jk)
            out[#out + 1] = 1
          else
            redis.call('HINCRBY', P .. ':stats', 'stale_rejected', 1)
            out[#out + 1] = 0
          end
        end
        return out
        """)

    /// ARGV: prefix, then quadruples id token delay_ms error. Puts a failed job back as `retrying`
    /// until its backoff has passed. Returns 1 or 0 (stale) per job.
    static let retry = RedisScript(name: "retry", source: prelude + "\n" + """
        local out = {}
        for i = 2, #ARGV, 4 do
          local id, token, delay, err = ARGV[i], ARGV[i+1], tonumber(ARGV[i+2]), ARGV[i+3]
          local jk = P .. ':job:' .. id
          local h = redis.call('HMGET', jk, 'token', 'state', 'queue')
          if h[1] == token and h[2] == 'running' then
            redis.call('ZREM', P .. ':inflight', id)
            redis.call('HINCRBY', P .. ':qstat:' .. h[3], 'running', -1)
            redis.call('HINCRBY', P .. ':qstat:' .. h[3], 'retried', 1)
            redis.call('HSET', jk, 'state', 'retrying', 'token', 0, 'worker', '', 'last_error', err)
            redis.call('ZADD', P .. ':delayed:' .. h[3], now + delay * 1000, id)
            event(id, 'retrying', err)
            out[#out + 1] = 1
          else
            redis.call('HINCRBY', P .. ':stats', 'stale_rejected', 1)
            out[#out + 1] = 0
          end
        end
        return out
        """)

    /// ARGV: prefix, lease ms, then pairs id token. Extends each owned lease. Returns per job
    /// 0 (renewed), 1 (lease lost: taken over or gone) or 2 (renewed, cancellation requested).
    static let renew = RedisScript(name: "renew", source: prelude + "\n" + """
        local lease = tonumber(ARGV[2]) * 1000
        local out = {}
        for i = 3, #ARGV, 2 do
          local id, token = ARGV[i], ARGV[i+1]
          local h = redis.call('HMGET', P .. ':job:' .. id, 'token', 'state', 'cancel')
          if h[1] ~= token or (h[2] ~= 'running' and h[2] ~= 'completing') then
            out[#out + 1] = 1
          else
            redis.call('ZADD', P .. ':inflight', 'XX', now + lease, id)
            if h[3] == '1' then out[#out + 1] = 2 else out[#out + 1] = 0 end
          end
        end
        return out
        """)

    /// ARGV: prefix, max crashes, grace ms, limit. Takes over every expired lease with a new token.
    /// A running job whose worker died goes back to its queue, or — after `max crashes` expiries, when out
    /// of attempts, or when cancelled — is handed to the caller to commit as dead/cancelled ("kill").
    /// A `completing` job (its worker died mid-commit) is handed to the caller to check in Postgres.
    /// Returns {requeued count, n kill, n check, kill ids/tokens..., check ids/tokens...}.
    static let reap = RedisScript(name: "reap", source: prelude + "\n" + """
        local maxCrashes = tonumber(ARGV[2])
        local grace = tonumber(ARGV[3]) * 1000
        local ids = redis.call('ZRANGEBYSCORE', P .. ':inflight', '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
        local requeued, kill, check = 0, {}, {}
        for _, id in ipairs(ids) do
          local jk = P .. ':job:' .. id
          local h = redis.call('HMGET', jk, 'state', 'queue', 'priority', 'attempt', 'max_attempts', 'cancel')
          if not h[1] then
            redis.call('ZREM', P .. ':inflight', id)
          else
            local token = redis.call('INCR', P .. ':token')
            redis.call('HINCRBY', P .. ':stats', 'leases_expired', 1)
            if h[1] == 'completing' then
              redis.call('HSET', jk, 'token', token, 'worker', 'reaper')
              redis.call('ZADD', P .. ':inflight', now + grace, id)
              check[#check + 1] = id; check[#check + 1] = token
            else
              local crashes = redis.call('HINCRBY', jk, 'crashes', 1)
              if h[6] == '1' or crashes >= maxCrashes or tonumber(h[4]) >= tonumber(h[5]) then
                redis.call('HSET', jk, 'state', 'running', 'token', token, 'worker', 'reaper',
                  'last_error', 'lease expired ' .. crashes .. ' time(s): the worker died or hung')
                redis.call('ZADD', P .. ':inflight', now + grace, id)
                kill[#kill + 1] = id; kill[#kill + 1] = token
              else
                redis.call('ZREM', P .. ':inflight', id)
                redis.call('HINCRBY', P .. ':qstat:' .. h[2], 'running', -1)
                redis.call('HSET', jk, 'state', 'queued', 'token', 0, 'worker', '')
                redis.call('ZADD', P .. ':queue:' .. h[2], readyScore(h[3]), id)
                wake(h[2])
                requeued = requeued + 1
              end
            end
          end
        end
        local out = {requeued, #kill / 2, #check / 2}
        for _, v in ipairs(kill) do out[#out + 1] = v end
        for _, v in ipairs(check) do out[#out + 1] = v end
        return out
        """)

    /// ARGV: prefix, then triples id token count_attempt(0/1). Returns an owned job to its queue
    /// (graceful shutdown releases, reaper after a failed commit). Returns 1 or 0 per job.
    static let requeue = RedisScript(name: "requeue", source: prelude + "\n" + """
        local out = {}
        for i = 2, #ARGV, 3 do
          local id, token, count = ARGV[i], ARGV[i+1], ARGV[i+2]
          local jk = P .. ':job:' .. id
          local h = redis.call('HMGET', jk, 'token', 'queue', 'priority')
          if h[1] == token then
            redis.call('ZREM', P .. ':inflight', id)
            redis.call('HINCRBY', P .. ':qstat:' .. h[2], 'running', -1)
            redis.call('HSET', jk, 'state', 'queued', 'token', 0, 'worker', '')
            if count == '0' then redis.call('HINCRBY', jk, 'attempt', -1) end
            redis.call('ZADD', P .. ':queue:' .. h[2], readyScore(h[3]), id)
            wake(h[2])
            out[#out + 1] = 1
          else
            out[#out + 1] = 0
          end
        end
        return out
        """)

    /// ARGV: prefix, id, grace ms. A waiting job is taken out of its queue and handed to the caller
    /// (with a token) to commit as cancelled; a running one is flagged for its worker.
    /// Returns {'missing'} | {'take', token} | {'flagged', state}.
    static let cancel = RedisScript(name: "cancel", source: prelude + "\n" + """
        local id, grace = ARGV[2], tonumber(ARGV[3]) * 1000
        local jk = P .. ':job:' .. id
        local h = redis.call('HMGET', jk, 'state', 'queue')
        if not h[1] then return {'missing'} end
        redis.call('HSET', jk, 'cancel', '1')
        if h[1] == 'queued' or h[1] == 'scheduled' or h[1] == 'retrying' then
          redis.call('ZREM', P .. ':queue:' .. h[2], id)
          redis.call('ZREM', P .. ':delayed:' .. h[2], id)
          local token = redis.call('INCR', P .. ':token')
          redis.call('HSET', jk, 'state', 'running', 'token', token, 'worker', 'canceller')
          redis.call('HINCRBY', P .. ':qstat:' .. h[2], 'running', 1)
          redis.call('ZADD', P .. ':inflight', now + grace, id)
          return {'take', token}
        end
        return {'flagged', h[1]}
        """)
}
