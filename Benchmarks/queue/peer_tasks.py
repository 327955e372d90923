"""No-op jobs for the peers. Each records its completion in Redis (same cost for every peer)."""
import os
import time

import redis

R = redis.Redis.from_url(os.environ.get("PEER_REDIS", "redis://127.0.0.1:16379/3"))


def record():
    now = time.time()
    p = R.pipeline(transaction=False)
    p.set("peer:first", now, nx=True)
    p.set("peer:last", now)
    p.incr("peer:done")
    p.execute()


def rq_noop():
    record()


try:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    dramatiq.set_broker(RedisBroker(url=os.environ.get("PEER_REDIS", "redis://127.0.0.1:16379/3")))

    @dramatiq.actor(max_retries=0, queue_name="peer")
    def dramatiq_noop():
        record()
except ImportError:  # the RQ run does not need dramatiq
    pass
