"""End to end: the whole study through Snakemake (and DVC) on the tiny config, as a user runs it."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

import browser
from conftest import TINY_PARAMS
from deepfake_lth import paths, stages, targets
from deepfake_lth.config import load_params, scored_runs
from deepfake_lth.report.document import catalog
from test_paper_path import readme_commands
from workflow_runner import ENV, dvc, dvc_stage_address, make_dvc_project, planned_jobs, snakemake, snakemake_command

pytestmark = pytest.mark.slow


def readme_configfile_commands() -> list[list[str]]:
    """The README's snakemake commands that name a params file (`--configfile=FILE`), arguments after
    `snakemake`, with FILE replaced by the tiny study's params.yaml: they run for real on the tiny study."""
    commands = [shlex.split(c.partition("  #")[0])[1:] for c in readme_commands()
                if c.startswith("snakemake ") and "--configfile=" in c]
    return [["--configfile=params.yaml" if a.startswith("--configfile=") else a for a in c] for c in commands]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The tiny study built once, for real, by the README's `snakemake ... --configfile=FILE results/figures`."""
    workdir = tmp_path_factory.mktemp("study")
    shutil.copy(TINY_PARAMS, workdir / "params.yaml")
    commands = readme_configfile_commands()
    assert commands and all(c[-1] == "results/figures" for c in commands)
    built = snakemake(workdir, *commands[0])
    assert "deepfake-lth plan of params.yaml: 71 jobs" in built.stdout  # onstart ran, with the file it was given
    for command in commands[1:]:
        snakemake(workdir, *command)
    return workdir


@pytest.fixture(scope="module")
def params(study):
    return load_params(study / "params.yaml")


def test_every_target_exists(study, params):
    for path in targets.report_inputs(params):
        assert (study / path).is_file(), path
    assert (study / "results/report.md").is_file()
    assert any((study / "results/tables").glob("*.csv"))
    assert any((study / "results/figures").glob("*.png"))


def test_second_invocation_runs_nothing(study):
    assert planned_jobs(study, "results/figures") == {}


def test_every_job_writes_one_benchmark_file(study, params):
    """Every rule declares benchmark: (paths.job_record's layout), so each of the 71 jobs left its costs."""
    expected = {stages.job_record(params, job, "benchmark") for job in stages.study(params)}
    written = {p.relative_to(study) for p in (study / paths.benchmarks_dir(params)).rglob("*") if p.is_file()}
    assert written == expected and len(expected) == 71
    for path in expected:
        header, values = (study / path).read_text().splitlines()[:2]
        assert header.split("\t")[:3] == ["s", "h:m:s", "max_rss"] and float(values.split("\t")[0]) > 0, path


def train_processes(workdir: Path) -> list[tuple[int, list[str]]]:
    """(pid, argv) of the running `deepfake-lth ... train` Python processes (not their shell wrappers) whose
    working directory is `workdir`: this test's own jobs, never another checkout's or a user's."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
            cwd = (proc / "cwd").resolve(strict=True)
        except OSError:
            continue
        if (len(argv) > 2 and "python" in Path(argv[0]).name and argv[1].endswith("deepfake-lth") and "train" in argv
                and cwd == workdir.resolve()):
            found.append((int(proc.name), argv))
    return found


def test_a_killed_training_job_is_made_again_with_what_depends_on_it(study, params):
    """kill -9 of a dense run forced with -R train: Snakemake deletes its outputs and keeps its consumers';
    the next run must not call the study complete, and makes the same bytes again (but for the latencies the
    deploy jobs measure again)."""
    before = {p: p.read_bytes() for p in (study / "results/runs").rglob("dense/*.pt")}
    before_report = without_latencies((study / "results/report.md").read_text())
    forced = subprocess.Popen(snakemake_command(study, "--cores", "1", "-R", "train", "results/figures"), cwd=study,
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (killed := train_processes(study)) and time.monotonic() < deadline and forced.poll() is None:
        time.sleep(0.05)
    assert killed, "no training job started"
    pid, argv = killed[0]
    os.kill(pid, signal.SIGKILL)
    assert forced.wait(timeout=120) != 0
    dataset, model = argv[argv.index("--dataset") + 1], argv[argv.index("--model") + 1]
    dense = paths.dense_dir(params, dataset, model, 0)
    assert not (study / dense / "final.pt").exists() and not (study / dense / "metrics.json").exists()

    plan = planned_jobs(study, "results/figures")
    assert plan["train"] == 1 and plan["report"] == 1 and plan["prune_imp"] >= 2
    snakemake(study, "results/figures")
    assert {p: p.read_bytes() for p in before} == before  # the same dense runs, bit for bit
    assert without_latencies((study / "results/report.md").read_text()) == before_report
    assert planned_jobs(study, "results/figures") == {}


def without_latencies(report_md: str) -> str:
    """report.md without its deployment section: CPU latencies are measurements of the machine at the moment,
    the one result a rerun does not repeat bit for bit."""
    text, count = re.subn(r"\n## Deployment \(beyond the paper\)\n.*?(?=\n## )", "\n", report_md, flags=re.S)
    assert count == 1, "report.md has no deployment section"
    return text


# The HTML report of the finished study: built once by the README's command, opened in real Chromium.
def embedded(report_html: Path, script_id: str):
    """The JSON value Snakemake's report embeds in its <script id=...> (`results`, `workflow-desc`)."""
    found = re.search(rf'<script id="{script_id}">\s*var \w+ = (.*?);\s*</script>', report_html.read_text(), re.S)
    return json.loads(found.group(1))


def embedded_file(report_html: Path, path: str) -> str:
    """The text of a result file as the HTML report carries it (a base64 data URI)."""
    return base64.b64decode(embedded(report_html, "results")[path]["data_uri"].split(",", 1)[1]).decode()


def table_cells(text: str) -> list[list[str]]:
    """The body rows of the first table of an HTML page, cell texts as shown."""
    rows = re.findall(r"<tr>(.*?)</tr>", text.split("<tbody>", 1)[1].split("</tbody>", 1)[0], re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows]


def markdown_cells(report_md: str, heading: str) -> list[list[str]]:
    """The body rows of the first Markdown table under `heading` in report.md."""
    section = report_md.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")][2:]  # less header and rule
    return [[c.strip().replace("\\|", "|") for c in line.strip("| ").split(" | ")] for line in lines]


@pytest.fixture(scope="module")
def html_report(study):
    """The README's HTML-report commands exactly as it gives them (the description page's job, then
    `snakemake --report ...`), on the finished tiny study."""
    commands = [c for c in readme_commands() if c.startswith("snakemake") and "after the study has run" in c]
    assert commands[-1].startswith("snakemake --report")
    for command in commands:
        snakemake(study, *shlex.split(command.partition("  #")[0])[1:])
    return study / "results/report.html"


def test_report_md_and_the_html_report_state_the_same_paper_comparison(study, html_report):
    report_md = (study / "results/report.md").read_text()
    ours = markdown_cells(report_md, "## The paper's numbers beside ours")
    shown = table_cells(embedded_file(html_report, "results/tables/table5_paper_comparison.html"))
    assert len(ours) > 5 and shown == ours
    assert any(cell == "not run" for row in ours for cell in row) and any("Table I" in row for row in ours)
    description = embedded(html_report, "workflow-desc")  # the description page: report.md's text again
    assert table_cells(description.split("<h2>The paper's numbers beside ours</h2>", 1)[1]) == ours
    assert "Assumptions in force (params.yaml)" in description and "Demo data." in description


@pytest.fixture(scope="module")
def chromium():
    reason = browser.cannot_run_reason()
    if reason:
        pytest.skip(reason)
    browser.ensure_installed()
    return browser.versions()


def test_the_html_report_opens_in_chromium_with_every_figure_and_table(study, params, html_report, chromium):
    """Every figure and table is listed where catalog.placement files it, every image loads, the paper
    comparison table shows report.md's numbers, and the browser logs no error."""
    files = sorted((study / "results/figures").glob("*.png")) + sorted((study / "results/tables").glob("*.csv"))
    files += [p.with_suffix(".html") for p in files if p.suffix == ".csv"]
    pages: dict[tuple[str, str], set[str]] = {}
    for path in files:
        pages.setdefault(catalog.placement(path.stem), set()).add(
            catalog.labels(path.stem, path.suffix[1:], study / "results/tables")["result"])
    subcategories = {category: sum(1 for c, _ in pages if c == category) for category, _ in pages}
    comparison = markdown_cells((study / "results/report.md").read_text(), "## The paper's numbers beside ours")
    with browser.headless_chromium() as driver:
        wait = WebDriverWait(driver, 20)
        url = browser.page_url(html_report)
        driver.get(url)
        description = wait.until(lambda d: d.find_element(By.XPATH, "//h2[starts-with(., 'Assumptions in force')]"))
        assert description.is_displayed()
        costs = driver.find_element(By.XPATH, "//h2[starts-with(., 'What each stage cost')]/following-sibling::table[1]")
        assert {row.find_element(By.TAG_NAME, "td").text for row in costs.find_elements(By.XPATH, ".//tbody/tr")} == {
            job.rule for job in stages.study(params)}
        for (category, subcategory), expected in sorted(pages.items()):
            _click(wait, "Results")  # the menu's heading, or from a result page the breadcrumb back to the menu
            _click(wait, category)
            if subcategories[category] > 1:
                _click(wait, subcategory)
            rows = wait.until(lambda d: d.find_elements(By.XPATH, "//nav//tr[td]"))
            listed = {row.find_element(By.TAG_NAME, "td").text for row in rows}
            assert listed == expected, (category, subcategory)
            for row in rows:
                label = row.find_element(By.TAG_NAME, "td").text
                if label.endswith("(PNG)"):
                    row.find_element(By.CSS_SELECTOR, "a[iconname=eye]").click()
                    shown = wait.until(lambda d: d.find_element(By.XPATH, "//img[starts-with(@src, 'data:image/png')]"))
                    wait.until(lambda d: d.execute_script("return arguments[0].complete", shown))
                    if label.startswith(catalog.FIGURES["fig2_accuracy_vs_sparsity"]):
                        driver.save_screenshot(str(html_report.with_suffix(".png")))
                    _assert_images_loaded(driver)
                elif label.startswith("The paper's numbers beside ours") and label.endswith("(table)"):
                    row.find_element(By.CSS_SELECTOR, "a[iconname=eye]").click()
                    # the table's own frame: the one shown (the page may keep other tables' frames hidden)
                    driver.switch_to.frame(wait.until(lambda d: next(
                        (f for f in d.find_elements(By.TAG_NAME, "iframe") if f.is_displayed()), False)))
                    cells = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                             for tr in driver.find_elements(By.XPATH, "//tbody/tr")]
                    driver.switch_to.default_content()
                    assert cells == comparison
        assert any(label.startswith("Fig. 2") for label in pages[(catalog.TICKETS, catalog.EVERYTHING)])
        assert any(label.endswith("(table)") for label in pages[(catalog.PAPER, catalog.EVERYTHING)])
        _assert_images_loaded(driver)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
    assert html_report.with_suffix(".png").stat().st_size > 10_000, "no screenshot of Fig. 2"


def _click(wait, text: str) -> None:
    """Click the menu entry that reads `text`."""
    literal = "concat('" + "', \"'\", '".join(text.split("'")) + "', '')"
    wait.until(lambda d: d.find_element(By.XPATH, f"//nav//*[normalize-space(text())={literal}]")).click()


def _assert_images_loaded(driver) -> None:
    images = driver.find_elements(By.TAG_NAME, "img")
    assert images and all(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
                          for img in images), [img.get_attribute("src")[:40] for img in images]


def test_one_level_is_regenerated_alone_and_identically(study):
    level = study / "results/runs/demo_gan/mesonet/seed_0/imp_global/level_02"
    before = json.loads((level / "metrics.json").read_text())
    shutil.rmtree(level)
    target = str(level.relative_to(study) / "metrics.json")
    assert planned_jobs(study, target) == {"prune_imp": 1}
    run = snakemake(study, target)
    assert json.loads((level / "metrics.json").read_text()) == before
    # the run began by printing the plan of the study it belongs to
    assert "deepfake-lth plan of params.yaml: 71 jobs" in run.stdout and "levels: 50% of the remaining" in run.stdout


@pytest.mark.parametrize(
    "folder, rule",
    [
        ("results/runs/demo_swap/cnn5/seed_0/oneshot/level_01", "prune_oneshot"),
        ("results/transfer/demo_gan__to__demo_swap/cnn5/seed_0/imp_global/level_02", "transfer"),
        ("results/runs/demo_gan/cnn5/seed_0/random_mask/level_02", "prune_control"),
    ],
)
def test_one_point_plans_exactly_one_job(study, folder, rule):
    (study / folder / "metrics.json").unlink()
    assert planned_jobs(study, f"{folder}/metrics.json") == {rule: 1}
    snakemake(study, f"{folder}/metrics.json")


def test_unrelated_param_change_reruns_only_dependent_jobs(study):
    snakemake(study, "results/figures")  # bring up to date after the regenerations above
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["gradcam"]["images_per_class"] = 1
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        assert planned_jobs(study, "results/figures") == {"gradcam": 2, "report": 1}
    finally:
        shutil.copy(TINY_PARAMS, study / "params.yaml")


def _metrics(study, pattern):
    return [json.loads(p.read_text()) for p in sorted(study.glob(pattern))]


def test_accuracy_table_equals_the_metrics_files(study):
    table = pd.read_csv(study / "results/tables/table1_accuracy_vs_sparsity.csv")
    assert len(table) > 0
    for row in table.itertuples():
        level = "dense" if row.method == "dense" else f"{row.method}/level_{row.level:02d}"
        runs = _metrics(study, f"results/runs/{row.dataset}/{row.model}/seed_*/{level}/metrics.json")
        assert runs, row
        expected = 100 * sum(r["splits"]["test"]["accuracy"] for r in runs) / len(runs)
        assert row.test_accuracy_pct_mean == pytest.approx(expected, abs=1e-9)
        expected_sparsity = 100 * sum(r["sparsity"] for r in runs) / len(runs)
        assert row.sparsity_pct_mean == pytest.approx(expected_sparsity, abs=1e-9)


def test_every_metrics_file_is_in_the_accuracy_table(study, params):
    table = pd.read_csv(study / "results/tables/table1_accuracy_vs_sparsity.csv")
    rows = {(r.dataset, r.model, r.method, int(r.level)) for r in table.itertuples()}
    for path in targets.dense_metrics(params) + targets.level_metrics(params) + targets.control_metrics(params):
        m = json.loads((study / path).read_text())
        assert (m["dataset"], m["model"], m["method"], m["level"]) in rows, path


def test_robustness_table_figure_and_claims_of_the_tiny_study(study, params):
    """Every scored run's robustness.csv is in the table, each dataset has its figure and each perturbation
    its claims; a new ticket (a control's final.pt) re-runs its setting's conditions and deploy jobs and the
    report."""
    snakemake(study, "results/figures")
    table = pd.read_csv(study / "results/tables/robustness.csv")
    conditions = [job for job in stages.study(params) if job.rule == "conditions"]
    assert len(conditions) == 4 and all((study / path).is_file() for job in conditions for path in job.outputs.values())
    scored = {(r.dataset, r.model, r.method, int(r.level)) for r in table.itertuples()}
    assert len(scored) == 4 * sum(path.name == paths.ROBUSTNESS_FILE for path in conditions[0].outputs.values())
    perturbations = [name for name, grid in params["robustness"].items() if isinstance(grid, list) and grid]
    assert set(table.perturbation) == set(perturbations) and (table.groupby("perturbation").severity.min() == 0).all()
    for dataset in ("demo_gan", "demo_swap"):
        assert (study / f"results/figures/fig_robustness_{dataset}.png").is_file()
    claims = pd.read_csv(study / "results/tables/claims.csv", keep_default_na=False)
    assert {f"ticket_robust_{name}" for name in perturbations} <= set(claims.key)
    ticket = study / "results/runs/demo_gan/cnn5/seed_0/random_mask/level_02/final.pt"
    os.utime(ticket)
    os.utime(study / "results/benchmarks/prune_control/demo_gan/cnn5/0/random_mask/02.tsv")
    assert planned_jobs(study, "results/figures") == {"conditions": 1, "deploy": 1, "report": 1}
    snakemake(study, "results/figures")


def test_generalization_matrix_heatmaps_and_claim_of_the_tiny_study(study, params):
    """Every scored run is in the matrix on every tested dataset, the evaluate-only view of the demo tree
    (demo_reenact) included; its diagonal is the runs' metrics.json; each model has its heatmap; the claim
    has its rows."""
    table = pd.read_csv(study / "results/tables/generalization.csv")
    assert list(table.columns[:12]) == ["trained_on", "tested_on", "model", "seed", "method", "level", "accuracy",
                                        "ci_low", "ci_high", "auc", "auc_ci_low", "auc_ci_high"]
    assert set(table.trained_on) == {"demo_gan", "demo_swap"}
    assert set(table.tested_on) == {"demo_gan", "demo_swap", "demo_reenact"}
    runs_scored = table.groupby(["trained_on", "model", "method", "level"]).tested_on.nunique()
    assert len(runs_scored) == 4 * len(scored_runs(params)) and (runs_scored == 3).all()
    diagonal = table[(table.trained_on == table.tested_on) & (table.method == "dense")]
    for row in diagonal.itertuples():
        metrics = json.loads((study / paths.dense_outputs(params, row.trained_on, row.model, row.seed)["metrics"])
                             .read_text())
        assert row.accuracy == metrics["splits"]["test"]["accuracy"]
    assert len(diagonal) == 2 * len(params["models"])
    for model in params["models"]:
        assert (study / f"results/figures/fig_generalization_{model}.png").is_file()
    claims = pd.read_csv(study / "results/tables/claims.csv", keep_default_na=False)
    assert "ticket_generalizes" in set(claims.key)


def test_deployment_table_pareto_figures_and_channel_claim_of_the_tiny_study(study, params):
    """One row per scored run, runtime and thread count of every setting, each with its run's test accuracy
    and interval; channel tickets timed shrunk, unstructured ones as the dense network; a Pareto figure per
    model; report.md's account; the claim that IMP beats channel pruning."""
    table = pd.read_csv(study / "results/tables/deployment.csv")
    assert list(table.columns[:19]) == [
        "dataset", "model", "seed", "method", "level", "total_parameters", "nonzero_parameters", "macs",
        "effective_macs", "bytes_dense", "bytes_sparse", "bytes_compressed", "latency_ms_b1", "latency_ms_b32",
        "latency_iqr_ms_b1", "runtime", "accuracy", "ci_low", "ci_high"]
    deploys = [job for job in stages.study(params) if job.rule == "deploy"]
    assert len(deploys) == 4 and all((study / job.outputs["deployment"]).is_file() for job in deploys)
    per_run = table.groupby(["dataset", "model", "seed", "method", "level"]).size()
    assert len(per_run) == len(deploys) * len(scored_runs(params))
    assert (per_run == 2 * table.threads.nunique()).all()  # PyTorch and ONNX Runtime, on each thread count
    channel = table[table.method == "channel"]
    dense = table[table.method == "dense"].groupby("model").total_parameters.first()
    assert not channel.empty and (channel.total_parameters < channel.model.map(dense)).all()
    assert (channel.architecture.str.startswith("channel level")).all()
    assert (table[table.method.isin(["imp_global", "reinit"])].architecture == "dense").all()
    for row in table[table.method == "dense"].drop_duplicates(["dataset", "model"]).itertuples():
        metrics = json.loads((study / paths.dense_outputs(params, row.dataset, row.model, row.seed)["metrics"])
                             .read_text())
        assert row.accuracy == metrics["splits"]["test"]["accuracy"] and row.ci_low <= row.accuracy <= row.ci_high
    for model in params["models"]:
        assert (study / f"results/figures/fig_deployment_{model}.png").is_file()
    assert "## Deployment (beyond the paper)" in (study / "results/report.md").read_text()
    claims = pd.read_csv(study / "results/tables/claims.csv", keep_default_na=False)
    assert "imp_beats_channel" in set(claims.key)


# Last in the file: DVC takes over the study Snakemake built (the tests above leave it complete).
HANDOFF_STAGES = [
    "demo-demo_gan", "faces-demo_gan", "faces-demo_swap-Reenact", "train-demo_gan-mesonet-s0",
    "prune-demo_gan-cnn5-s0-imp_global-02", "prune-demo_swap-cnn5-s0-random_mask-02",
    "transfer-demo_gan-demo_swap-cnn5-s0-oneshot-02", "gradcam-demo_swap-cnn5", "conditions-demo_gan-cnn5-s0", "report",
]


@pytest.fixture(scope="module")
def locked(study):
    """The Snakemake-built study as a DVC project whose dvc.lock records it (what `make dvc-lock` does)."""
    snakemake(study, "results/figures")
    make_dvc_project(study, TINY_PARAMS)
    dvc(study, "commit", "--force", "--quiet")
    return study


def dvc_status(workdir) -> dict:
    return json.loads(dvc(workdir, "status", "--json").stdout)


def test_dvc_repro_after_snakemake_and_dvc_lock_runs_nothing(locked):
    assert dvc_status(locked) == {}
    assert "Running stage" not in dvc(locked, "repro").stdout


@pytest.mark.parametrize("stage", HANDOFF_STAGES)
def test_a_stage_rerun_by_dvc_writes_what_snakemake_wrote(locked, stage):
    """Same bytes from either engine (folders included: Snakemake's timestamp marker is not hashed),
    so nothing below the re-run stage goes stale."""
    target = dvc_stage_address(locked, stage)
    output = dvc(locked, "repro", "--force", "--single-item", target).stdout
    assert f"Running stage '{target}'" in output
    assert dvc_status(locked) == {}
