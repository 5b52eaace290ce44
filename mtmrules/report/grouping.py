"""One drug, one action (DESIGN §7.4): problems whose main intervention acts on the same medication
become one problem with every reason, the most severe leading.

A problem's main action is its first intervention, with the medication entries it targets:
- *replace* (stop, switch, taper) problems that target a common entry are one problem;
- *dose* (reduce-dose, change-dose, increase-dose) problems on a common entry are one problem, and join
  a replace problem on that entry (a dose change is moot when the drug is replaced);
- *review* (assess, document-indication) problems whose targets are all replaced or re-dosed join it;
- a drug-drug interaction with no replace or dose action of its own joins a problem, at least as
  severe, that replaces one of its drugs: that action answers the pair; one with no action at all
  also joins a problem that re-doses one of its drugs (one asking for a review stays its own problem
  then: a re-dosed methotrexate with an NSAID is still a question);
- any other problem with no replace or dose action of its own, all of whose drugs one problem (at least
  as severe) replaces, joins it — including a monitoring gap: monitoring a drug about to be replaced is moot;
- an untreated condition joins another whose missing therapy includes all of its own (an SGLT2
  inhibitor for diabetic CKD also answers "SGLT2 inhibitor or GLP-1 agonist" for diabetes with ASCVD):
  one start satisfies both.
- the monitoring gaps left over are one problem: the tests due are ordered together.
Otherwise untreated conditions and therapy not at goal ask for something else (start a drug, review the
regimen) and are not joined. Entries, not ingredients, are compared, so the two ingredients of
one product (sulfamethoxazole/trimethoprim) are one target. The pass runs after the same-kind merge
in build.py, so any finding already folded there (e.g. a mechanism template under a label rule)
travels with its problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

REPLACE = frozenset({"stop", "switch", "taper"})
DOSE = frozenset({"reduce-dose", "change-dose", "increase-dose"})
REVIEW = frozenset({"assess", "document-indication"})
CHANGE = REPLACE | DOSE
NEVER_JOINED = frozenset({"untreated-condition", "monitoring-gap", "ineffective-therapy"})
SEVERITY_RANK = {"contraindicated": 3, "major": 2, "moderate": 1, "minor": 0}


class _Draft(Protocol):
    kind: str
    severity: str
    score: float
    rule: str
    medications: list[str]


#: draft → (main action, entries it targets, entries of every medication in the problem)
ActionOf = Callable[[_Draft], tuple[str | None, frozenset[int], frozenset[int]]]
#: draft → ingredients whose absence the rule requires (the therapy an untreated condition asks to start)
MissingTherapy = Callable[[_Draft], frozenset[str]]


def group_by_action(groups: list[list[_Draft]], action_of: ActionOf,
                    missing_therapy: MissingTherapy | None = None) -> list[list[_Draft]]:
    """Join groups (lead first) that ask for one action on one medication; order of first appearance."""
    if len(groups) < 2:
        return [list(g) for g in groups]
    heads = [action_of(g[0]) for g in groups]
    kinds = [g[0].kind for g in groups]
    partition = Partition(len(groups))
    find, union = partition.find, partition.union

    joinable = [kind not in NEVER_JOINED for kind in kinds]
    # entry → the last problem replacing (re-dosing) it; problems replacing (re-dosing) one entry are one
    replaced: dict[int, int] = {}
    dosed: dict[int, int] = {}
    first: tuple[dict[int, int], dict[int, int]] = ({}, {})
    for i, (action, targets, _) in enumerate(heads):
        if not joinable[i] or not targets:
            continue
        if action in REPLACE:
            owner, last = first[0], replaced
        elif action in DOSE:
            owner, last = first[1], dosed
        else:
            continue
        for entry in sorted(targets):
            if entry in owner:
                union(owner[entry], i)
            else:
                owner[entry] = i
            last[entry] = i
    for i, (action, targets, entries) in enumerate(heads):
        if not (replaced or dosed):
            break   # nothing replaced or re-dosed: nothing to join under
        if not joinable[i]:
            continue
        home = None
        if action in DOSE or (action in REVIEW and targets):
            home = _covering(targets, replaced, find)
            if home is None and action in REVIEW:
                home = _covering(targets, dosed, find)
            if home is not None and find(home) != find(i):
                union(home, i)
        if home is None and kinds[i] == "drug-drug-interaction" and action not in CHANGE:
            # replacing one of its drugs answers the pair; so does re-dosing one, unless the pair asks for
            # a review of its own (methotrexate with an NSAID stays a question once methotrexate is re-dosed)
            owners = (replaced,) if action in REVIEW else (replaced, dosed)
            stronger = [owner[e] for owner in owners for e in entries
                        if e in owner and _at_least(groups, owner[e], i)]
            if stronger:
                # the most severe, then by content: entry numbers follow input order, which must not matter
                union(min(stronger, key=lambda j: _content_order(groups[j][0])), i)
    for i, (action, _, entries) in enumerate(heads):
        # a problem without an action of its own on a drug, every drug of which one problem replaces
        if not replaced:
            break
        if action in CHANGE or not entries or kinds[i] == "untreated-condition":
            continue
        home = _covering(entries, replaced, find)
        if (home is not None and find(home) != find(i)
                and _strongest(groups, home, find) >= SEVERITY_RANK[groups[i][0].severity]):
            union(home, i)
    if missing_therapy is not None and kinds.count("untreated-condition") > 1:
        gaps = [(i, missing_therapy(g[0])) for i, g in enumerate(groups) if kinds[i] == "untreated-condition"]
        for i, wanted in gaps:
            for j, other in gaps:
                # i's therapy is one of the options j asks for: starting it answers both (ties: first wins)
                if i != j and wanted and wanted <= other and (wanted != other or i < j):
                    union(i, j)
    # the tests still due are one ask (one blood draw): monitoring gaps not already under a problem
    # that replaces their drug become one problem
    if kinds.count("monitoring-gap") > 1:
        due = [members[0] for members in partition.sets()
               if all(groups[j][0].kind == "monitoring-gap" for j in members)]
        for root in due[1:]:
            union(due[0], root)
    return [[d for i in members for d in groups[i]] for members in partition.sets()]


class Partition:
    """Disjoint sets over 0..n-1; a joined set is named by its lowest member, so the sets come out in
    order of first appearance whatever the order of the unions."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def sets(self) -> list[list[int]]:
        # a member's parent is never above it and a root is its set's lowest member, so one pass in
        # order finds every root (each parent's root is known by then) and meets the sets in order
        roots: list[int] = []
        members: dict[int, list[int]] = {}
        for i, parent in enumerate(self.parent):
            root = i if parent == i else roots[parent]
            roots.append(root)
            members.setdefault(root, []).append(i)
        return list(members.values())


def connected(items: list, linked: Callable[[object, object], bool]) -> list[list]:
    """The items joined wherever ``linked`` holds for two of them, transitively; each set in order of
    first appearance."""
    if len(items) < 2:
        return [[item] for item in items]
    partition = Partition(len(items))
    for i, item in enumerate(items):
        for j in range(i):
            if linked(items[j], item):
                partition.union(i, j)
    return [[items[i] for i in members] for members in partition.sets()]


def _content_order(lead: _Draft) -> tuple:
    """An order of problems by what they say, never by where their drugs sit in the input."""
    return (-SEVERITY_RANK[lead.severity], -lead.score, lead.rule, tuple(lead.medications))


def _at_least(groups: list[list[_Draft]], i: int, j: int) -> bool:
    """Group i's lead is at least as severe as group j's."""
    return SEVERITY_RANK[groups[i][0].severity] >= SEVERITY_RANK[groups[j][0].severity]


def _strongest(groups: list[list[_Draft]], root: int, find: Callable[[int], int]) -> int:
    """The highest severity rank among the problems already joined under ``root``."""
    return max(SEVERITY_RANK[g[0].severity] for j, g in enumerate(groups) if find(j) == find(root))


def _covering(targets: frozenset[int], owners: dict[int, int], find: Callable[[int], int]) -> int | None:
    """The (already joined) problem owning every one of ``targets``, else None."""
    if not targets or not owners.keys() >= targets:
        return None
    homes = {find(owners[e]) for e in targets}
    return homes.pop() if len(homes) == 1 else None
