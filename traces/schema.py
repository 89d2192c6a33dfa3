"""A trace as the harness replays it: requests in arrival order, each prompt a sequence of segments.

A segment is (content key, tokens): two segments with the same key and length hold the same tokens,
so requests whose segment sequences agree up to a point share that prefix (the server's prefix cache
sees the same reuse the trace describes). A conversation's later turns carry no arrival time of their
own: each is sent `think_s` after the previous turn's answer, its prompt the whole history so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Segment = tuple[str, int]


class TraceError(ValueError):
    """A trace file the harness cannot read: where (file:line) and what."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line, self.problem = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(frozen=True, slots=True)
class TraceRequest:
    line: int  # where the row is in its file (1-based): reports and errors name it
    arrival_s: float | None  # None: a later turn, sent think_s after the previous turn's answer
    segments: tuple[Segment, ...]
    output_tokens: int
    session: str | None = None
    turn: int = 0
    think_s: float = 0.0

    @property
    def input_tokens(self) -> int:
        return sum(n for _, n in self.segments)


@dataclass(frozen=True)
class Trace:
    path: str
    format: str
    requests: tuple[TraceRequest, ...]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows the replay cannot honour

    def sessions(self) -> list[list[TraceRequest]]:
        """Requests grouped as sent: a single-turn row alone, a conversation's turns in order."""
        grouped: dict[str, list[TraceRequest]] = {}
        out: list[list[TraceRequest]] = []
        for request in self.requests:
            if request.session is None:
                out.append([request])
            elif request.session in grouped:
                grouped[request.session].append(request)
            else:
                grouped[request.session] = [request]
                out.append(grouped[request.session])
        return out

    def honoured(self, max_model_len: int) -> Trace:
        """The trace less the rows a server of max_model_len refuses (prompt + output beyond it): counted
        in `skipped`, never silently dropped; a conversation ends at its first such turn."""
        kept: list[TraceRequest] = []
        skipped = dict(self.skipped)
        for turns in self.sessions():
            for number, request in enumerate(turns):
                reason = _refusal(request, max_model_len)
                if reason:
                    skipped[reason] = skipped.get(reason, 0) + 1
                    if len(turns) > number + 1:
                        later = "later turns of a conversation cut at a refused turn"
                        skipped[later] = skipped.get(later, 0) + len(turns) - number - 1
                    break
                kept.append(request)
        return Trace(self.path, self.format, tuple(sorted(kept, key=_order)), skipped)

    def duration_s(self) -> float:
        starts = [r.arrival_s for r in self.requests if r.arrival_s is not None]
        return max(starts) - min(starts) if starts else 0.0


def _refusal(request: TraceRequest, max_model_len: int) -> str | None:
    if request.output_tokens < 1:
        return "no output tokens (a request asks for at least one)"
    if request.input_tokens + request.output_tokens > max_model_len:
        return f"prompt + output beyond max_model_len {max_model_len}"
    return None


def _order(request: TraceRequest) -> tuple[float, int]:
    return (request.arrival_s if request.arrival_s is not None else float("inf"), request.line)
