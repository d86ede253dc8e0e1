"""The subject registry: subject.toml round trips, name checks, lookup, and ``toolkit subjects``."""

import json

import pytest

from toolkit.cli import main
from toolkit.diffusion.subjects import (
    LORA_FILE,
    SUBJECT_FILE,
    Subject,
    SubjectError,
    SubjectRegistry,
    check_subject_name,
    subjects_dir,
)
from toolkit.pose.proportions import BodyProportions


def _subject(name: str = "alice") -> Subject:
    return Subject(
        name,
        token="zwx",
        class_noun="woman",
        base="tiny",
        controlnets=("tiny", "./nets/extra"),
        template="walkcycle",
        prompt='a "quoted" photo of {token} {class}',
        proportions=BodyProportions(head=0.125, thigh=0.25),
        samples=("samples/0000.png", "samples/0001.png"),
        training={"steps": 400, "rank": 4, "learning_rate": 1e-4, "prior_preservation": True},
    )


def test_subject_toml_round_trips(tmp_path):
    subject = _subject()
    path = subject.save(tmp_path / "alice")
    assert path == tmp_path / "alice" / SUBJECT_FILE and 'class = "woman"' in path.read_text()
    assert Subject.load(tmp_path / "alice") == subject
    minimal = Subject("bob")
    minimal.save(tmp_path / "bob")
    assert Subject.load(tmp_path / "bob") == minimal and minimal.proportions is None


@pytest.mark.parametrize("name", ["alice", "Bob_2", "x", "a.b-c", "9lives"])
def test_good_subject_names(name):
    assert check_subject_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "../x", "a/b", "a\\b", ".hidden", "a..b", "-x", "sp ace", "é", "x" * 65]
)
def test_bad_subject_names_are_rejected(name):
    with pytest.raises(SubjectError, match="invalid subject name"):
        check_subject_name(name)


def test_subject_fields_are_checked(tmp_path):
    with pytest.raises(SubjectError, match="inside its folder"):
        Subject("x", samples=("../../etc/passwd",))
    with pytest.raises(SubjectError, match="token"):
        Subject("x", token="")
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / SUBJECT_FILE).write_text('token = "sks"\ncolour = "red"\n')
    with pytest.raises(SubjectError, match="unknown key.*colour"):
        Subject.load(folder)
    (folder / SUBJECT_FILE).write_text("token = 3\n")
    with pytest.raises(SubjectError, match=r"subject.toml: .*token"):
        Subject.load(folder)
    (folder / SUBJECT_FILE).write_text("[proportions]\nhead = -1\n")
    with pytest.raises(SubjectError, match="head must be a positive number"):
        Subject.load(folder)
    (folder / SUBJECT_FILE).write_text("token = ")
    with pytest.raises(SubjectError, match="not a readable TOML file"):
        Subject.load(folder)


def test_registry_root_follows_flag_then_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("TOOLKIT_SUBJECTS_DIR", raising=False)
    assert subjects_dir() == subjects_dir(None) and str(subjects_dir()) == "subjects"
    monkeypatch.setenv("TOOLKIT_SUBJECTS_DIR", str(tmp_path / "env"))
    assert subjects_dir() == tmp_path / "env"
    assert subjects_dir(tmp_path / "flag") == tmp_path / "flag"


def test_registry_lists_gets_and_removes(tmp_path):
    registry = SubjectRegistry(tmp_path)
    assert registry.names() == []
    for name in ("carol", "alice"):
        registry.save(_subject(name))
    (tmp_path / "not_a_subject").mkdir()
    assert registry.names() == ["alice", "carol"]
    assert registry.get("carol").token == "zwx"
    with pytest.raises(SubjectError, match=r"no subject 'dave'.*known: alice, carol"):
        registry.get("dave")
    with pytest.raises(SubjectError, match="invalid subject name"):
        registry.get("../alice")
    assert registry.remove("carol") == tmp_path / "carol"
    assert registry.names() == ["alice"] and not (tmp_path / "carol").exists()


def test_subjects_cli(tmp_path, capsys):
    registry = SubjectRegistry(tmp_path)
    registry.save(_subject("alice"))
    (tmp_path / "alice" / LORA_FILE).write_bytes(b"weights")
    root = ["--subjects-dir", str(tmp_path)]
    assert main(["subjects", "list", *root]) == 0
    assert capsys.readouterr().out.split("\t") == ["alice", "zwx woman", "tiny", "LoRA\n"]
    assert main(["subjects", "show", "alice", "--json", *root]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (
        shown["token"] == "zwx" and shown["proportions"]["head"] == 0.125 and shown["training"]["rank"] == 4
    )
    assert main(["subjects", "remove", "alice", *root]) == 2
    assert "--yes" in capsys.readouterr().err and (tmp_path / "alice").exists()
    assert main(["subjects", "remove", "alice", "--yes", *root]) == 0
    assert not (tmp_path / "alice").exists()
    assert main(["subjects", "show", "alice", *root]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "known: none" in err
    assert main(["subjects", "list", *root]) == 0 and "no subjects" in capsys.readouterr().out


def test_a_broken_subject_is_listed_as_broken_and_can_be_removed(tmp_path, capsys):
    from toolkit.cli import main

    registry = SubjectRegistry(tmp_path)
    registry.save(Subject("good"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "subject.toml").write_text("token = [unclosed\n")
    assert main(["subjects", "list", "--subjects-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("bad\tbroken: ") and out[1].startswith("good\tsks person")
    assert main(["subjects", "remove", "bad", "--yes", "--subjects-dir", str(tmp_path)]) == 0
    assert not (tmp_path / "bad").exists() and registry.names() == ["good"]
