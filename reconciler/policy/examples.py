"""A pack's own examples, run as tests: each must have the outcome it is listed under."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.policy.engine import Engine, Outcome, TargetContext
from reconciler.policy.rules import Example, Pack, Rule

_EXPECTED = {
    "pass": Outcome.PASS,
    "fail": Outcome.FAIL,
    "not_applicable": Outcome.NOT_APPLICABLE,
}


@dataclass(frozen=True)
class ExampleResult:
    rule: Rule
    example: Example
    outcome: Outcome
    error: str | None = None

    @property
    def expected(self) -> Outcome:
        return _EXPECTED[self.example.kind]

    @property
    def ok(self) -> bool:
        return self.outcome is self.expected

    @property
    def where(self) -> str:
        return f"{self.rule.file}:{self.example.line}"


def context_of(example: Example) -> TargetContext:
    target = example.target
    return TargetContext(
        level=example.level,
        id=target.get("id", ""),
        email=target.get("email", ""),
        name=target.get("name", ""),
        groups=tuple(target.get("groups", ())),
        type=target.get("type", ""),
        documents=example.documents,
        locked=example.locked,
    )


def run_examples(pack: Pack) -> list[ExampleResult]:
    """Every example of every rule of `pack`, in file order."""
    engine = Engine([pack])
    results = []
    for rule in pack.rules:
        for example in rule.examples:
            result = engine.evaluate_rule(rule, context_of(example))
            results.append(ExampleResult(rule, example, result.outcome, result.error))
    return sorted(results, key=lambda result: (result.example.line, result.example.col))
