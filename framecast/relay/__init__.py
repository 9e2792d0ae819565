"""Beyond one machine: an origin publishes each channel's frames, settings and status into
Redis, and edges serve TVs from Redis alone (`--role origin|edge --redis URL`).

Redis Streams carry the frames (`XADD ... MAXLEN ~ 2` per channel, `XREAD BLOCK` on the edges),
so a slow edge skips to the newest frame and Redis holds at most a few frames per channel.
"""
