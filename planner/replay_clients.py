"""The batching replay's clients (planner/serving_sim.py): who sends which request when - a closed loop's
free places, an open loop's times, a conversation's next turn - and vLLM's API server, which hands each
request to an engine."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from planner.replay_requests import TrackedRequest, deliver_tokens


@dataclass(frozen=True)
class Frontend:
    """vLLM's API server before the engine: a request is handed over no sooner than `request` seconds
    after it comes (each on its own), and its prompt is tokenised in `token` seconds a token, one prompt at a
    time: a burst of long prompts queues here, a burst of short ones reaches the engine together."""

    request: float = 0.0
    token: float = 0.0


NO_FRONTEND = Frontend()  # a replay without the API server's time (tests, what-if pricing)


@dataclass
class Clients:
    """Who sends what when: a closed loop's free places (`slots`; None: an open loop, requests at their
    times), conversations' next turns (`followers`, by index: sent `think` seconds after that one's last
    token), the API server in front of the engine; and what reached the client (`done`)."""

    pending: list[TrackedRequest]
    followers: dict[int, tuple[TrackedRequest, float]]
    slots: int | None
    frontend: Frontend
    gaps: bool
    waiting: list[TrackedRequest] = field(default_factory=list)
    done: list[TrackedRequest] = field(default_factory=list)
    frontend_free: float = 0.0
    released: float = 0.0  # when a closed loop's places last freed

    def send(self, now: float, *, running: bool) -> float:
        """Requests due by `now` go to the API server; returns `now`, moved on if the engine idles till one."""
        while self.pending and (self.slots if self.slots is not None
                                else self.pending[0].arrival <= now or not (self.waiting or running)):  # fmt: skip
            request = self.pending.pop(0)
            if self.slots is not None:  # a closed loop sends the next request when a place frees
                request.arrival = max(request.arrival, self.released)
                self.slots -= 1
            now = max(now, request.arrival)  # an idle engine waits for it
            start = max(request.arrival + self.frontend.request, self.frontend_free)
            request.ready = self.frontend_free = start + self.frontend.token * request.prompt
            self.waiting.append(request)
        return now

    def deliver(self, made: list[TrackedRequest], at: float) -> None:
        """`made`'s tokens reach the client at `at`; finished requests free their places, send next turns."""
        finished = deliver_tokens(made, self.done, at, gaps=self.gaps)
        if self.slots is not None and finished:
            self.slots, self.released = self.slots + len(finished), at
        for request in finished:
            if request.index in self.followers:
                follower, think = self.followers[request.index]
                follower.arrival = at + think
                bisect.insort(self.pending, follower, key=lambda r: r.arrival)

    def next_arrival(self) -> float:
        """When the engine next gets a request from the API server; inf: none will come."""
        return min(self.waiting[0].ready if self.waiting else math.inf,
                   self.pending[0].arrival if self.pending else math.inf)  # fmt: skip
