"""Traffic traces, the format shared by the replay (bench) and the KV-demand planner (planner): read
from Mooncake-style JSONL (block hashes), Azure's LLM inference CSV, or this harness's conversation
JSONL, into requests whose prompts are named content segments (so that two requests sharing a prefix
share the same segments, on paper and on the server). Owned by neither room; reads files, nothing live.
"""

from traces.reader import FORMATS, read_trace
from traces.schema import Segment, Trace, TraceError, TraceRequest

__all__ = ["FORMATS", "Segment", "Trace", "TraceError", "TraceRequest", "read_trace"]
