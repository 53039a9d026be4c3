"""`paperfeed eval recsys DIR`: a small real folder (the Kaggle snapshot head's papers, readers
who like papers of one category), and the folder's validation."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from paperfeed.recommend.evaluation import RecsysError, auc, read_papers, read_readers
from tests.support.cli import HEAD200, Cli


def _write(folder: Path, papers: list[dict[str, object]], users: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "papers.jsonl").write_text("".join(json.dumps(p) + "\n" for p in papers))
    (folder / "users.jsonl").write_text("".join(json.dumps(u) + "\n" for u in users))
    return folder


def _small_folder(data_dir: Path, target: Path, *, categories: bool = False) -> Path:
    """The 200 real papers (three with their abstract left out; with `categories`, their
    arXiv categories but for every tenth paper's); four readers, each liking three papers of
    one primary category and looking for the others of it among the rest."""
    with gzip.open(data_dir / HEAD200, "rt") as lines:
        records = [json.loads(line) for line in lines]
    papers: list[dict[str, object]] = [
        {"id": r["id"], "title": r["title"], "abstract": "" if n % 67 == 5 else r["abstract"]}
        for n, r in enumerate(records)
    ]
    if categories:
        for n, (paper, r) in enumerate(zip(papers, records, strict=True)):
            if n % 10:
                paper["categories"] = r["categories"].split()
    users: list[dict[str, object]] = []
    for category in ("astro-ph", "hep-ph", "cond-mat.mtrl-sci", "hep-th"):
        own = [r["id"] for r in records if r["categories"].split()[0] == category]
        users.append(
            {
                "user": category,
                "liked": own[:3],
                "disliked": [],
                "candidates": [r["id"] for r in records if r["id"] not in own[:3]],
                "relevant": own[3:],
            }
        )
    return _write(target, papers, users)


def _cli(tmp_path: Path) -> Cli:
    """`paperfeed eval` reads a folder and builds its own catalog: no catalog is involved."""
    return Cli({"PAPERFEED_HOME": str(tmp_path / "home"), "PAPERFEED_CONFIG": None})


def test_eval_recsys_scores_the_recommender_on_a_folder(data_dir: Path, tmp_path: Path) -> None:
    folder = _small_folder(data_dir, tmp_path / "set")
    cli = _cli(tmp_path)
    metrics = json.loads(cli("eval", "recsys", folder, "--json", "--no-progress").stdout)
    assert set(metrics) == {"ndcg@10", "recall@50", "auc", "mrr", "users"}
    assert metrics["users"] == 4
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("ndcg@10", "recall@50", "auc", "mrr"))
    # Three papers of a category find the others of it well above chance (AUC 0.5).
    assert metrics["auc"] > 0.75 and metrics["ndcg@10"] > 0.3
    table = cli("eval", "recsys", folder, "--no-progress").stdout
    assert "nDCG@10" in table and f"{metrics['ndcg@10']:.4f}" in table


def test_eval_recsys_uses_the_papers_categories_where_the_folder_gives_them(
    data_dir: Path, tmp_path: Path
) -> None:
    """The readers look for papers of their liked papers' primary category: with the
    categories in the folder (a tenth of the papers without), the ranking finds more of them."""
    cli = _cli(tmp_path)
    bare = _small_folder(data_dir, tmp_path / "bare")
    given = _small_folder(data_dir, tmp_path / "given", categories=True)
    without = json.loads(cli("eval", "recsys", bare, "--json", "--no-progress").stdout)
    with_them = json.loads(cli("eval", "recsys", given, "--json", "--no-progress").stdout)
    assert with_them["users"] == without["users"] == 4
    assert with_them["auc"] > without["auc"]
    assert with_them["ndcg@10"] >= without["ndcg@10"]
    papers = read_papers(given)
    assert papers["0704.0002"].categories == ("math.CO", "cs.CG")
    assert papers["0704.0001"].categories == ()  # (the first of every ten: none given)
    assert read_papers(bare)["0704.0002"].categories == ()


def test_a_reader_with_only_dislikes_is_ranked_in_the_given_order(
    data_dir: Path, tmp_path: Path
) -> None:
    """No likes: nothing is ranked by taste (cold start), so the candidates keep their order."""
    with gzip.open(data_dir / HEAD200, "rt") as lines:
        records = [json.loads(line) for line in lines][:30]
    papers = [{"id": r["id"], "title": r["title"], "abstract": r["abstract"]} for r in records]
    ids = [r["id"] for r in records]
    user = {
        "user": "u",
        "liked": [],
        "disliked": ids[:3],
        "candidates": ids[3:],
        "relevant": [ids[3]],
    }
    folder = _write(tmp_path / "set", papers, [user])
    metrics = json.loads(_cli(tmp_path)("eval", "recsys", folder, "--json").stdout)
    assert metrics["mrr"] == 1.0 and metrics["ndcg@10"] == 1.0 and metrics["auc"] == 1.0


def test_eval_recsys_reports_what_is_wrong_with_a_folder(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "set",
        [{"id": "a", "title": "A"}, {"id": "b", "title": "B", "abstract": ""}],
        [{"user": "u", "liked": ["a"], "candidates": ["b", "zz"], "relevant": ["b"]}],
    )
    result = _cli(tmp_path)("eval", "recsys", folder, ok=False)
    assert result.exit_code != 0
    assert "users.jsonl:1: unknown paper id 'zz' in 'candidates'" in result.output
    (folder / "users.jsonl").unlink()
    result = _cli(tmp_path)("eval", "recsys", folder, ok=False)
    assert result.exit_code != 0 and "has no users.jsonl" in result.output


@pytest.mark.parametrize(
    ("papers", "users", "message"),
    [
        ('{"id": "a", "title": "A"}\n{"id": "b", "title": \n', "", "papers.jsonl:2: not JSON"),
        ('{"id": "a"}\n', "", "papers.jsonl:1: field 'title' must be a non-empty string"),
        ('{"id": "a", "title": "A"}\n{"id": "a", "title": "B"}\n', "", "'a' appears twice"),
        ("[1, 2]\n", "", "papers.jsonl:1: not a JSON object"),
        ("", "", "holds no papers"),
        (
            '{"id": "a", "title": "A", "categories": "cs.LG"}\n',
            "",
            "papers.jsonl:1: field 'categories' must be a list of category names",
        ),
        (
            '{"id": "a", "title": "A", "categories": ["cs.LG", 3]}\n',
            "",
            "papers.jsonl:1: field 'categories' must be a list of category names",
        ),
        (
            '{"id": "a", "title": "A"}\n',
            '{"user": "u", "liked": "a", "candidates": ["a"], "relevant": ["a"]}\n',
            "users.jsonl:1: field 'liked' must be a list of paper ids",
        ),
        (
            '{"id": "a", "title": "A"}\n{"id": "b", "title": "B"}\n',
            '\n{"user": "u", "liked": ["a"], "candidates": ["b"], "relevant": ["a"]}\n',
            "users.jsonl:2: relevant paper 'a' is not a candidate",
        ),
        (
            '{"id": "a", "title": "A"}\n',
            '{"user": "u", "liked": [], "candidates": ["a"], "relevant": []}\n',
            "users.jsonl:1: 'relevant' is empty",
        ),
        (
            '{"id": "a", "title": "A"}\n',
            '{"liked": [], "candidates": ["a"], "relevant": ["a"]}\n',
            "users.jsonl:1: field 'user' must be a non-empty string",
        ),
    ],
)
def test_folder_validation(tmp_path: Path, papers: str, users: str, message: str) -> None:
    (tmp_path / "papers.jsonl").write_text(papers)
    (tmp_path / "users.jsonl").write_text(users)
    with pytest.raises(RecsysError) as raised:
        read_readers(tmp_path, read_papers(tmp_path))
    assert message in str(raised.value)


def test_auc_counts_the_pairs_ordered_rightly() -> None:
    assert auc(["r", "x", "y"], {"r"}) == 1.0
    assert auc(["x", "y", "r"], {"r"}) == 0.0
    assert auc(["x", "r", "y", "s"], {"r", "s"}) == pytest.approx(0.25)  # r above y only
