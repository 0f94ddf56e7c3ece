"""The readers on small files written here, well-formed and malformed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scalinglaw import DataError, read_lm_eval_json, read_table, read_tensorboard, read_wandb_csv


def test_read_table_csv(tmp_path):
    p = tmp_path / "runs.csv"
    p.write_text("model,n_params,n_tokens,loss\na,1e6,1e9,3.5\nb,2e6,1e9,3.2\n")
    df = read_table(p, required=["model", "loss"])
    assert list(df["loss"]) == [3.5, 3.2]
    assert df["n_params"].dtype == np.float64


def test_read_table_truncated_csv_is_an_error(tmp_path):
    """A last row cut mid-line must not become a row padded with NaN."""
    p = tmp_path / "cut.csv"
    p.write_text("model,n_params,n_tokens,loss\na,1e6,1e9,3.5\nb,2e6")
    with pytest.raises(DataError, match=r"cut\.csv.*Expected 4 columns"):
        read_table(p)


def test_read_table_missing_column(tmp_path):
    p = tmp_path / "wrong.csv"
    p.write_text("name,size,loss\na,1,2\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['n_tokens'\]"):
        read_table(p, required=["n_tokens"])


def test_read_table_headerless_needs_names(tmp_path):
    p = tmp_path / "xy.csv"
    p.write_text("1.0, 2.0\n3.0, 4.0\n")
    assert list(read_table(p, header=False, names=["x", "y"])["y"]) == [2.0, 4.0]
    with pytest.raises(DataError, match="needs column names"):
        read_table(p, header=False)


def test_read_table_jsonl(tmp_path):
    p = tmp_path / "runs.jsonl"
    p.write_text('{"a": 1, "b": [1, 2]}\n\n{"a": 2, "b": []}\n')
    df = read_table(p)
    assert list(df["a"]) == [1, 2]


def test_read_table_invalid_jsonl_names_the_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\n{"a": 2\n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_table(p)


def test_read_table_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_read_wandb_csv_drops_envelopes_and_blanks(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text(
        '"Step","run - loss","run - loss__MIN","run - loss__MAX","other - acc"\n'
        '"10","3.5","3.5","3.5",""\n'
        '"20","3.1","3.1","3.1","0.4"\n'
    )
    df = read_wandb_csv(p)
    assert set(df["metric"]) == {"run - loss", "other - acc"}
    assert len(df) == 3
    assert df["step"].dtype == np.int64
    assert df.loc[df["metric"] == "other - acc", "step"].tolist() == [20]


def test_read_wandb_csv_without_step_column(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text('"step_x","loss"\n"1","2"\n')
    with pytest.raises(DataError, match=r"missing column\(s\) \['Step'\]"):
        read_wandb_csv(p)


def test_read_wandb_csv_non_numeric_value(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text('"Step","loss"\n"1","2.0"\n"2","oops"\n')
    with pytest.raises(DataError, match="non-numeric"):
        read_wandb_csv(p)


def _write_events(path, values, tag="loss"):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(path))
    for step, v in enumerate(values):
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=v)])
        writer.add_event(event_pb2.Event(step=step, wall_time=1.0 + step, summary=summary))
    writer.close()
    return next(path.glob("*tfevents*"))


def test_read_tensorboard_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    f = _write_events(tmp_path / "run", [3.0, 2.5, 2.25])
    df = read_tensorboard(tmp_path / "run")
    assert df["value"].tolist() == [3.0, 2.5, 2.25]
    assert df["step"].tolist() == [0, 1, 2]
    assert read_tensorboard(f, tags=["other"]).empty


def test_read_tensorboard_truncated_file_is_an_error(tmp_path):
    pytest.importorskip("tensorboard")
    f = _write_events(tmp_path / "run", [3.0, 2.5, 2.25])
    f.write_bytes(f.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_tensorboard(f)


def test_read_tensorboard_corrupt_file_is_an_error(tmp_path):
    pytest.importorskip("tensorboard")
    f = _write_events(tmp_path / "run", [3.0, 2.5])
    data = bytearray(f.read_bytes())
    data[30:40] = b"\xff" * 10  # inside the first record: its CRC no longer matches
    f.write_bytes(bytes(data))
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_tensorboard(f)


def test_read_tensorboard_not_an_event_file(tmp_path):
    pytest.importorskip("tensorboard")
    f = tmp_path / "events.out.tfevents.123.host"
    f.write_bytes(b"this is not a tfrecord file at all")
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_tensorboard(f)


def test_read_tensorboard_empty_directory(tmp_path):
    pytest.importorskip("tensorboard")
    with pytest.raises(DataError, match="no TensorBoard event file"):
        read_tensorboard(tmp_path)


def test_read_lm_eval_json(tmp_path):
    p = tmp_path / "res.json"
    doc = {
        "results": {
            "lambada_openai": {"ppl": 10.0, "ppl_stderr": 0.3, "acc": 0.5, "acc_stderr": 0.01},
            "piqa": {"acc": 0.6},
        },
        "config": {"num_fewshot": 0},
    }
    p.write_text(json.dumps(doc))
    df = read_lm_eval_json(p)
    assert len(df) == 3
    row = df[(df["task"] == "lambada_openai") & (df["metric"] == "ppl")].iloc[0]
    assert row["value"] == 10.0 and row["stderr"] == 0.3
    assert np.isnan(df[df["task"] == "piqa"]["stderr"].iloc[0])
    assert df.attrs["config"] == {"num_fewshot": 0}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"results": {"piqa": {"acc": 0.5}', "not valid JSON"),
        ('{"config": {}}', "no 'results' object"),
        ('{"results": {"piqa": {"acc": "high"}}}', "is not a number"),
        ('{"results": {"piqa": 3}}', "is not an object"),
    ],
)
def test_read_lm_eval_json_malformed(tmp_path, text, match):
    p = tmp_path / "res.json"
    p.write_text(text)
    with pytest.raises(DataError, match=match):
        read_lm_eval_json(p)
