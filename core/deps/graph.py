"""Cycles in the dependency graph, found by depth-first search without recursion.

A graph maps each node to the nodes it depends on (B → A: B waits for A). Both searches
keep their own stack, so a chain of 100,000 tasks costs memory, not Python's recursion
limit, and each visits every node and edge at most once.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar, cast

N = TypeVar("N", bound=Hashable)
Graph = Mapping[N, Iterable[N]]

_ON_PATH = 1
_FINISHED = 2
_END = object()


def find_cycle(graph: Mapping[N, Iterable[N]]) -> list[N] | None:
    """Some cycle of the graph as [n0, n1, ..., n0], or None if it has none."""
    state: dict[N, int] = {}
    for root in graph:
        if root not in state:
            cycle = _cycle_from(graph, root, state)
            if cycle is not None:
                return cycle
    return None


def _cycle_from(graph: Mapping[N, Iterable[N]], root: N, state: dict[N, int]) -> list[N] | None:
    path: list[N] = [root]
    where: dict[N, int] = {root: 0}  # position on the current path, for slicing a cycle
    pending: list[Iterator[N]] = [iter(graph.get(root, ()))]
    state[root] = _ON_PATH
    while pending:
        step = next(pending[-1], _END)
        if step is _END:
            done = path.pop()
            del where[done]
            state[done] = _FINISHED
            pending.pop()
            continue
        following = cast(N, step)
        if state.get(following) == _ON_PATH:
            return [*path[where[following]:], following]
        if following not in state:
            state[following] = _ON_PATH
            where[following] = len(path)
            path.append(following)
            pending.append(iter(graph.get(following, ())))
    return None


def find_path(graph: Mapping[N, Iterable[N]], start: N, goal: N) -> list[N] | None:
    """A path [start, ..., goal] along the graph's edges, or None."""
    if start == goal:
        return [start]
    parent: dict[N, N] = {}
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        for following in graph.get(node, ()):
            if following in seen:
                continue
            parent[following] = node
            if following == goal:
                return _walk_back(parent, start, goal)
            seen.add(following)
            stack.append(following)
    return None


def _walk_back(parent: Mapping[N, N], start: N, goal: N) -> list[N]:
    path = [goal]
    while path[-1] != start:
        path.append(parent[path[-1]])
    return path[::-1]


def cycle_closed_by(graph: Mapping[N, Iterable[N]], task: N, depends_on: N) -> list[N] | None:
    """The cycle the edge task → depends_on closes, as [task, depends_on, ..., task].

    The edge itself may or may not be in `graph` already: the answer is the same.
    """
    back = find_path(graph, depends_on, task)
    return [task, *back] if back is not None else None


def canonical(cycle: Sequence[N], order: Mapping[N, str]) -> tuple[N, ...]:
    """One name for a cycle however it was entered: rotated to start at the node whose
    `order` label is smallest, without the closing repeat."""
    ring = list(cycle[:-1]) if len(cycle) > 1 and cycle[0] == cycle[-1] else list(cycle)
    if not ring:
        return ()
    first = min(range(len(ring)), key=lambda i: order.get(ring[i], str(ring[i])))
    return tuple(ring[first:] + ring[:first])


def graph_of(edges: Iterable[tuple[N, N]]) -> dict[N, list[N]]:
    """Adjacency lists from (task, depends_on) pairs."""
    graph: dict[N, list[N]] = {}
    for task, depends_on in edges:
        graph.setdefault(task, []).append(depends_on)
    return graph
