"""Cycle detection: iterative DFS on graphs up to 10,000+ edges, checked by hypothesis."""

from __future__ import annotations

import itertools
import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from core.deps.graph import canonical, cycle_closed_by, find_cycle, find_path, graph_of


def random_dag(nodes: int, edges: int, seed: int) -> dict[int, list[int]]:
    """Edges only from a higher number to a lower one: acyclic by construction."""
    rng = random.Random(seed)
    pairs = set()
    while len(pairs) < edges:
        a, b = rng.sample(range(nodes), 2)
        pairs.add((max(a, b), min(a, b)))
    return graph_of(sorted(pairs))


def is_cycle(graph: dict[int, list[int]], cycle: list[int]) -> bool:
    steps = list(itertools.pairwise(cycle))
    return cycle[0] == cycle[-1] and all(b in graph.get(a, []) for a, b in steps)


@settings(max_examples=40)
@given(st.integers(2, 3000), st.integers(0, 10_000), st.integers(0, 10**6))
def test_random_dags_never_report_a_cycle(nodes: int, edges: int, seed: int) -> None:
    graph = random_dag(nodes, min(edges, nodes * (nodes - 1) // 2), seed)

    assert find_cycle(graph) is None


def random_walk(graph: dict[int, list[int]], start: int, steps: int, rng: random.Random
                ) -> int:
    node = start
    for _ in range(steps):
        if not graph.get(node):
            break
        node = rng.choice(graph[node])
    return node


@settings(max_examples=40)
@given(st.integers(2, 3000), st.integers(1, 10_000), st.integers(0, 10**6),
       st.integers(1, 500))
def test_a_back_edge_always_closes_a_cycle(nodes: int, edges: int, seed: int, steps: int
                                          ) -> None:
    graph = random_dag(nodes, min(edges, nodes * (nodes - 1) // 2), seed)
    rng = random.Random(seed)
    start = rng.choice(sorted(graph))  # a node that depends on something
    end = random_walk(graph, start, steps, rng)
    assert find_path(graph, start, end) is not None

    closed = cycle_closed_by(graph, end, start)  # end → start points back up the path
    graph.setdefault(end, []).append(start)

    assert closed is not None and is_cycle(graph, closed) and closed[:2] == [end, start]
    found = find_cycle(graph)
    assert found is not None and is_cycle(graph, found)


def test_ten_thousand_edges_are_checked_quickly() -> None:
    graph = random_dag(3000, 12_000, seed=3)
    top = max(graph)
    bottom = random_walk(graph, top, 3000, random.Random(3))
    started = time.perf_counter()

    assert find_cycle(graph) is None
    assert cycle_closed_by(graph, top, bottom) is None  # forward: no cycle
    assert cycle_closed_by(graph, bottom, top) is not None  # backward: a cycle
    assert time.perf_counter() - started < 2.0


def test_a_chain_deeper_than_the_recursion_limit() -> None:
    chain = graph_of((n + 1, n) for n in range(20_000))

    assert find_cycle(chain) is None
    chain[0] = [20_000]
    cycle = find_cycle(chain)
    assert cycle is not None and len(cycle) == 20_002


def test_the_cycle_an_edge_closes_starts_with_it() -> None:
    graph = graph_of([(48, 49), (49, 47)])  # 48 waits for 49, 49 for 47

    assert cycle_closed_by(graph, 47, 48) == [47, 48, 49, 47]
    assert cycle_closed_by(graph, 48, 47) is None


def test_a_self_loop_is_a_cycle() -> None:
    assert find_cycle({1: [1]}) == [1, 1]


def test_canonical_names_a_cycle_the_same_from_any_start() -> None:
    keys = {1: "ORCH-48", 2: "ORCH-47", 3: "ORCH-50"}

    assert canonical([1, 3, 2, 1], keys) == canonical([2, 1, 3, 2], keys) == (2, 1, 3)
