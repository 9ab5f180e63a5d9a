"""A template's conditions, Fn::If and Rules evaluated for given parameters and Region, as CloudFormation would.

For what moto does not do: it ignores a security group's SecurityGroupEgress and a template's Rules
(README, "Resource types moto's CloudFormation skips"). Only the functions the templates use in
conditions and rules are known; any other raises, so a new one cannot be silently misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_NO_VALUE = "AWS::NoValue"


@dataclass(frozen=True)
class Stack:
    template: dict[str, Any]
    parameters: dict[str, str | list[str]]
    region: str

    def _parameter(self, name: str) -> str | list[str]:
        if name == "AWS::Region":
            return self.region
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template["Parameters"][name]
        default = declared.get("Default")
        if default is None:
            raise AssertionError(f"parameter {name} has no default: give it")
        return [part for part in str(default).split(",")] if declared["Type"] == "CommaDelimitedList" else str(default)

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, node: Any) -> Any:  # noqa: C901 - one branch per intrinsic function, flat on purpose
        """The node with Ref (to parameters), Condition, Equals, Not, And, Or, Contains and If evaluated."""
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v != _NO_VALUE]
        if not isinstance(node, dict) or len(node) != 1:
            return {k: self.value(v) for k, v in node.items()} if isinstance(node, dict) else node
        ((function, argument),) = node.items()
        function = function.removeprefix("Fn::")
        if function == "Ref":
            return _NO_VALUE if argument == _NO_VALUE else self._reference(argument)
        if function == "Condition":
            return self.condition(argument)
        if function == "Equals":
            left, right = (self.value(a) for a in argument)
            return left == right
        if function == "Not":
            return not self.value(argument[0])
        if function == "And":
            return all(self.value(a) for a in argument)
        if function == "Or":
            return any(self.value(a) for a in argument)
        if function == "Contains":
            values, wanted = (self.value(a) for a in argument)
            return wanted in values
        if function == "If":
            name, when_true, when_false = argument
            return self.value(when_true if self.condition(name) else when_false)
        return {function: argument}  # GetAtt, Sub, ...: left as written (a resource's attribute)

    def _reference(self, name: str) -> Any:
        if name in self.template["Resources"] and name not in self.template.get("Parameters", {}):
            return {"Ref": name}  # a resource: its id, known only once created
        return self._parameter(name)

    def created(self, logical_id: str) -> bool:
        resource = self.template["Resources"][logical_id]
        return "Condition" not in resource or self.condition(resource["Condition"])

    def refusals(self) -> list[str]:
        """The AssertDescription of every Rules assertion that fails: CloudFormation refuses the stack with them."""
        refused = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            refused += [a["AssertDescription"] for a in rule["Assertions"] if not self.value(a["Assert"])]
        return refused
