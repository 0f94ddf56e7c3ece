"""Every adapter on the real mirrored files: row counts, units and the trap each one fixes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaw as sl
from scalinglaw.data.families import FAMILIES


def fam(dataset: pd.DataFrame, name: str, metric: str | None = None) -> pd.DataFrame:
    rows = dataset[dataset["family"] == name]
    return rows if metric is None else rows[rows["metric"] == metric]


def test_every_family_has_rows_of_its_default_metric(dataset):
    for name, family in FAMILIES.items():
        rows = fam(dataset, name, family.default_metric)
        assert len(rows) > 0, name


def test_gpt3_tokens_are_billions_and_duplicates_merged(dataset):
    val = fam(dataset, "gpt3", "val_loss")
    assert val["model"].nunique() == 8
    assert val["step"].isna().all()
    assert val["n_tokens"].max() == pytest.approx(300e9, rel=0.01)  # 'step' 300 = 300B tokens
    assert not val.duplicated(["model", "n_tokens"]).any()
    assert len(val) == 4011  # 6,506 digitised validation points, equal-x points averaged
    assert set(fam(dataset, "gpt3")["metric"]) == {"val_loss", "train_loss"}
    sizes = val.groupby("model", observed=True)["n_params"].first()
    assert sizes["gpt3-175b"] == 175e9 and sizes["gpt3-small"] == 125e6


def test_gpt3_digitised_readings_average_to_the_table(dataset, sources_root):
    from scalinglaw.data.families.gpt3 import digitised_readings

    readings = digitised_readings(sources=sources_root)
    assert len(readings) == 6506  # every validation reading, as the paper fitted them
    assert list(readings.columns) == [
        "family",
        "model",
        "n_params",
        "n_tokens",
        "loss",
        "seed",
        "step",
        "flops",
    ]
    averaged = readings.groupby(["model", "n_tokens"])["loss"].mean()
    table = fam(dataset, "gpt3", "val_loss").set_index(["model", "n_tokens"])["value"]
    table.index = table.index.set_levels(table.index.levels[0].astype(str), level=0)
    np.testing.assert_allclose(averaged.sort_index().to_numpy(), table.sort_index().to_numpy(), rtol=1e-12)
    with pytest.raises(sl.DataError, match="readings exist for 'val_loss' and 'train_loss'"):
        digitised_readings(sources=sources_root, metric="loss")


def test_opt_loss_is_ln_perplexity(dataset):
    val = fam(dataset, "opt", "val_loss")
    assert len(val) == 142
    final = val[val["model"] == "opt-175b"].sort_values("n_tokens")["value"].iloc[-1]
    assert final == pytest.approx(np.log(9.768875), rel=1e-6)
    assert (val["unit"] == "nats").all()
    # tokens are linear (steps x batch), not the file's log10 column
    assert val["n_tokens"].min() == 1e9 and val["n_tokens"].max() == pytest.approx(10**11.447158, rel=1e-5)
    np.testing.assert_allclose(val["flops"], 6 * val["n_params"] * val["n_tokens"])
    bb = fam(dataset, "opt")
    bb = bb[bb["metric"].str.startswith("bigbench/")]
    assert bb["value"].between(0, 1).all() and len(bb) > 0
    assert fam(dataset, "opt", "lambada_ppl_loss")["model"].nunique() == 8  # final lm-eval results


def test_chinchilla_points(dataset):
    rows = fam(dataset, "chinchilla")
    assert len(rows) == 245
    assert rows["model"].nunique() == 43
    assert rows["n_params"].min() == 60e6
    np.testing.assert_allclose(rows["n_tokens"] * 6 * rows["n_params"], rows["flops"], rtol=1e-12)


def test_t5_pile(dataset):
    rows = fam(dataset, "t5-pile")
    assert sorted(rows["n_params"].unique()) == [247_586_304, 783_173_632, 2_849_804_288, 11_135_426_560]
    assert (rows["step"] > 0).all()  # step 0 dropped
    np.testing.assert_array_equal(rows["n_tokens"], rows["step"].astype(float) * 2048 * 512)
    assert (rows["unit"] == "seqio_log_ppl").all()
    assert len(rows) == 807 - 4


def test_datablations(dataset):
    names = [f"gpt2-{d}-{e}" for d in ("c4", "oscar") for e in (1, 2, 3, 4, 5, 7, 14, 44)]
    main = dataset[dataset["family"].isin(names)]
    assert len(main) == 9261
    assert main["model"].nunique() == 48
    np.testing.assert_allclose(
        main["flops"], 6 * main["n_params"] * main["n_tokens"]
    )  # not the file's 1/D column
    one = main[main["model"] == "datablations-2.8b-c4-44x"]
    assert one["epochs"].max() == pytest.approx(44, rel=0.01)
    code = fam(dataset, "gpt2-c4-code")
    assert code["model"].nunique() == 9
    assert set(code["metric"]) == {"val_loss", "code_val_loss"}
    assert code.loc[code["metric"] == "code_val_loss", "value"].max() < 1.0
    assert len(fam(dataset, "gpt2-c4-contour")) == 229


def test_olmo_common_domains(dataset):
    val = fam(dataset, "olmo", "val_loss")
    assert set(val["model"]) == {"olmo-1b", "olmo-7b"}
    raw = fam(dataset, "olmo")
    domains = [f"val_loss/{d}" for d in ("4chan", "gab", "m2d2_wiki", "manosphere", "mc4_en", "wikitext_103")]
    sub = raw[raw["metric"].isin(domains) & (raw["model"] == "olmo-7b")]
    mean = sub.groupby("n_tokens")["value"].mean()
    got = val[val["model"] == "olmo-7b"].set_index("n_tokens")["value"]
    np.testing.assert_allclose(got.sort_index(), mean.loc[got.index].sort_index())
    assert (val["n_tokens"] / val["step"].astype(float) == 2160 * 2048).all()
    acc = raw[raw["unit"] == "accuracy"]
    assert acc["value"].le(1).all()


def test_pythia_families(dataset):
    for name in ("pythia", "pythia-deduped", "pythia-v0", "pythia-deduped-v0"):
        rows = fam(dataset, name, "lambada_ppl_loss")
        assert rows["n_params"].nunique() >= 7, name
        assert (rows["unit"] == "nats").all()
        assert rows["value"].between(1.0, 25).all()  # early steps: ppl up to ~6e8 -> 20 nats
    v1 = fam(dataset, "pythia", "lambada_ppl_loss")
    assert (v1["n_tokens"] == v1["step"].astype(float) * 2_097_152).all()
    v0 = fam(dataset, "pythia-v0", "lambada_ppl_loss")
    big_batch = v0[v0["model"] == "pythia-160m-v0"]
    assert (big_batch["n_tokens"] == big_batch["step"].astype(float) * 4_194_304).all()
    assert big_batch["n_tokens"].max() == 71_500 * 4_194_304
    five = fam(dataset, "pythia-deduped")
    assert five["metric"].str.endswith("@5shot").any()
    acc = dataset[dataset["family"].astype(str).str.startswith("pythia") & (dataset["unit"] == "accuracy")]
    assert acc["value"].between(0, 1).all()
    assert fam(dataset, "bloom", "lambada_ppl_loss")["model"].nunique() == 5


def test_overtrain_final_points(dataset):
    rows = dataset[dataset["family"].astype(str).str.startswith("overtrain-")]
    assert rows["model"].nunique() == 104
    val = rows[rows["metric"] == "val_loss"]
    assert len(val) == 104
    assert val["seed"].notna().all()
    acc = rows[rows["unit"] == "accuracy"]
    assert acc["metric"].nunique() == 46 and acc["value"].between(0, 1).all()


def test_llm360(dataset):
    k2 = fam(dataset, "k2", "train_loss")
    assert k2["n_tokens"].max() == pytest.approx(1.4e12)
    assert fam(dataset, "k2")["metric"].nunique() == 6
    amber = fam(dataset, "amber")
    assert "train_loss" not in set(amber["metric"])
    assert amber[amber["unit"] == "accuracy"]["value"].between(0, 1).all()
    mamba = fam(dataset, "llm360-mamba", "train_loss")
    assert len(mamba) == 44174 and mamba["arch"].eq("ssm").all()


def test_small_families(dataset):
    assert fam(dataset, "redpajama-incite")["model"].nunique() == 2
    bimix = fam(dataset, "bimix-pile", "val_loss")
    assert bimix["model"].nunique() == 6 and bimix["value"].between(1.5, 4).all()  # log-ppl, not log(log-ppl)
    mf = fam(dataset, "moduleformer")
    assert mf["arch"].eq("moe").all() and mf[mf["unit"] == "accuracy"]["value"].le(1).all()
    gz = dataset[dataset["family"].astype(str).str.startswith("gzip-")]
    assert gz["model"].nunique() == 150
    rev = fam(dataset, "revisiting-lm")
    assert not rev.duplicated(["model", "n_tokens", "metric"]).any()
    assert len(rev) == (1399 - 687) - 53  # de-duplicated, NMT rows dropped
    assert (fam(dataset, "revisiting-lm", "val_loss_rescaled")["value"] <= 0.999 + 1e-12).all()
    assert fam(dataset, "steplaw-dense", "smooth_train_loss")["model"].nunique() == 1911
    moe = fam(dataset, "steplaw-moe", "smooth_train_loss")
    assert (moe["flops"] < 6 * moe["n_params"] * moe["n_tokens"]).all()  # active-parameter FLOPs


def test_t5_aggregate_against_raw_event_files(sources_root):
    """The aggregate's val_perplexity is a monotone rescaling of the per-token eval loss in the tfevents."""
    pytest.importorskip("tensorboard")
    from scalinglaw.data.families.t5_pile import raw_eval_loss

    raw = raw_eval_loss(sources=sources_root)
    agg = sl.load_family("t5-pile", sources=sources_root)
    merged = agg.merge(raw, on=["model", "n_tokens"], how="inner")
    assert len(merged) == len(agg)  # every aggregated checkpoint is in the event files
    ratio = merged["val_loss"] / merged["loss"]
    assert ratio.between(17.5, 18.6).all()  # ln(seqio ppl) ~ per-token loss / 18: not a per-token perplexity
    final = raw.sort_values("n_tokens").groupby("model").last()["val_loss"]
    assert final["t5-pile-xxl"] < final["t5-pile-xl"] < final["t5-pile-large"] < final["t5-pile-base"]
    assert final.between(0.5, 1.0).all()  # plausible per-token cross-entropies in nats
