"""Which configured dataset plays the paper's OpenForensic and which its FF++, and whether it is demo data."""

from __future__ import annotations

from dataclasses import dataclass

from deepfake_lth.report.paper import FFPP, OPENFORENSIC


@dataclass(frozen=True)
class Roles:
    """`by_role[OPENFORENSIC]`, `by_role[FFPP]`: dataset names or None; `how`: one sentence on why."""

    by_role: dict
    how: str

    def dataset(self, role: str) -> str | None:
        return self.by_role.get(role)


def dataset_roles(params: dict, datasets_with_results: list[str]) -> Roles:
    """Roles from transfer.pairs[0] = [OpenForensic role, FF++ role]; without pairs, the first two
    datasets with results in params.yaml order."""
    pairs = params.get("transfer", {}).get("pairs") or []
    if pairs:
        source, target = pairs[0]
        return Roles(
            {OPENFORENSIC: source, FFPP: target},
            f"transfer.pairs[0] = [{source}, {target}]: `{source}` plays OpenForensic (where tickets are "
            f"found) and `{target}` plays FF++ (where they are transferred to).",
        )
    first = datasets_with_results[0] if datasets_with_results else None
    second = datasets_with_results[1] if len(datasets_with_results) > 1 else None
    return Roles(
        {OPENFORENSIC: first, FFPP: second},
        "no transfer pair is configured, so the first dataset with results plays OpenForensic "
        f"(`{first}`) and the second plays FF++ (`{second}`).",
    )


def data_kind(params: dict, dataset: str) -> str:
    """'demo' for the synthetic generator's datasets, 'real' for the others, 'unknown' when not in params."""
    entry = params.get("datasets", {}).get(dataset)
    if entry is None:
        return "unknown"
    return "demo" if entry.get("adapter") == "synthetic" else "real"
