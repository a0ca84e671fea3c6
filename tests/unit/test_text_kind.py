"""The text kind's parts: the TF-IDF graph equals scikit-learn, occlusion equals Captum's
feature ablation, requests are validated and de-identified before the model reads them, and
notes of different lengths batch together without changing their answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.text_builders import note_dataset

from medmaas.exceptions import SchemaError
from medmaas.kinds.text.tokens import encode, load_tokenizer, packaged_encoder_dir


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return load_tokenizer(packaged_encoder_dir() / "tokenizer.json", 64)


@pytest.mark.parametrize("classes", [("none", "severe"), ("none", "mild", "severe")])
def test_tfidf_graph_equals_scikit_learn(tokenizer, classes) -> None:  # type: ignore[no-untyped-def]
    import torch

    from medmaas.kinds.text.bag import BUCKETS, fit_bag, term_counts
    from medmaas.kinds.text.networks import TfidfLogistic
    from medmaas.kinds.text.tokens import special_ids

    SIGNS_MILD = ["mild nausea", "slight headache"]
    ds = note_dataset(n=90, seed=3, classes=("none", "severe"))
    texts, y = list(ds.texts), ds.y.copy()
    if len(classes) == 3:
        texts += [f"{s}. {s}, {s}" for s in SIGNS_MILD * 15]  # repeated terms: counted, not duplicated
        y = np.concatenate([np.where(y == 1, 2, 0), np.ones(30, dtype=np.int64)])
    encoded = encode(tokenizer, texts)
    ignore = [i for i in special_ids(tokenizer) if tokenizer.id_to_token(i) != "[UNK]"]
    vocab = tokenizer.get_vocab_size()
    counts = term_counts(encoded, vocab, ignore)
    bag = fit_bag(counts, y, folds=3, seed=0)
    module = TfidfLogistic(vocab_size=vocab, buckets=BUCKETS, idf=bag.parts()[0], coef=bag.parts()[1],
                           intercept=bag.parts()[2], ignore_ids=ignore)
    with torch.no_grad():
        graph = module(torch.from_numpy(encoded.ids), torch.from_numpy(encoded.mask)).numpy()
    assert graph.shape == (len(texts), len(classes))
    np.testing.assert_allclose(graph, bag.predict_proba(counts), atol=1e-6)


def test_occlusion_equals_captum_feature_ablation(tokenizer) -> None:  # type: ignore[no-untyped-def]
    import torch
    from captum.attr import FeatureAblation
    from transformers import BertConfig, BertModel

    from medmaas.bundle.spec import FeatureSpec, ModelSpec, OnnxBinding, OutputSpec
    from medmaas.kinds.text.explaining import occlusion, word_groups
    from medmaas.kinds.text.networks import EncoderClassifier

    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, attn_implementation="eager")
    model = EncoderClassifier(BertModel(config), 3).eval()
    encoded = encode(tokenizer, ["Severe headache, then vomiting twice; stopped it after a week."])
    ids, mask = encoded.ids[0], encoded.mask[0]
    groups = word_groups(encoded.words[0], mask)
    spec = ModelSpec(kind="text", task="classification", estimator="minilm",
                     inputs=[FeatureSpec(name="text", type="string")],
                     output=OutputSpec(target="t", task="classification", classes=["a", "b", "c"]),
                     onnx=OnnxBinding(inputs={"text": "input_ids"}, input_dtypes={"text": "int64"},
                                      probability_output="probabilities"))

    def run(feeds):  # type: ignore[no-untyped-def]
        with torch.no_grad():
            return {"probabilities": model(torch.from_numpy(feeds["input_ids"]),
                                           torch.from_numpy(feeds["attention_mask"])).numpy()}

    ours, predicted, _ = occlusion(run, spec, ids, mask, groups)
    feature_mask = np.full(len(mask), -1)
    for g, positions in enumerate(groups):
        feature_mask[positions] = g
    ids_t = torch.from_numpy(ids[None])
    unused = int(feature_mask.max()) + 1  # special tokens: one group Captum also ablates, ignored
    feature_mask[feature_mask < 0] = unused
    captum = FeatureAblation(lambda m: model(ids_t, m)).attribute(
        torch.from_numpy(mask[None]), target=predicted, baselines=0,
        feature_mask=torch.from_numpy(feature_mask[None])).numpy()[0]
    expected = np.array([captum[positions[0]] for positions in groups])
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def _spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    from medmaas.kinds.text.kind import TextKind

    kind = TextKind(candidates=["tfidf"], max_tokens=32).fit(note_dataset(n=60))
    spec = kind.export(tmp_path, note_dataset(n=60))
    TextKind.attach(spec, tmp_path)
    return spec


@pytest.fixture(scope="module")
def spec(tmp_path_factory):  # type: ignore[no-untyped-def]
    return _spec(tmp_path_factory.mktemp("bundle"))


@pytest.mark.parametrize(("rows", "message"), [
    ([], "non-empty list"),
    ([{"text": ""}], "row 0: field 'text' is empty"),
    ([{"text": "   \n"}], "is empty"),
    ([{"text": 42}], "must be a string"),
    ([{"note": "hello"}], "must be a string; got NoneType"),
    ([{"text": "ok"}, {"text": "a\x00b"}], "row 1: field 'text' contains a NUL"),
])
def test_bad_notes_are_refused_with_the_row(spec, rows, message) -> None:  # type: ignore[no-untyped-def]
    from medmaas.kinds.text.kind import TextKind

    with pytest.raises(SchemaError, match=message):
        TextKind.decode(spec, {"rows": rows})


def test_invalid_utf8_upload_names_the_byte(spec) -> None:  # type: ignore[no-untyped-def]
    from medmaas.kinds.text.kind import TextKind

    with pytest.raises(SchemaError, match=r"note.txt is not UTF-8 text \(invalid byte at position 4\)"):
        TextKind.decode_file(spec, b"fine\xff\xfe", "note.txt")


def test_notes_are_deidentified_before_the_model_reads_them(spec) -> None:  # type: ignore[no-untyped-def]
    from medmaas.kinds.text.kind import TextKind

    note = "Seen by Dr. Healey on 7/22/2019, call 617-555-0199. Severe vomiting since."
    batch = TextKind.decode(spec, {"rows": [{"text": note}]})
    read = batch.records[0]["text"]
    assert "Healey" not in read and "617-555-0199" not in read and "<PHONE>" in read
    assert any("identifier(s) replaced" in w for w in batch.warnings[0])
    raw = TextKind.decode(spec, {"rows": [{"text": note}], "deidentify": False})
    assert raw.records[0]["text"] == note and raw.warnings == [[]]
    # A note that is nothing but identifiers still gets an answer, of tags only.
    only = TextKind.decode(spec, {"rows": [{"text": "Mr. John Smith, 617-555-0199, 02/14/2019"}]})
    assert "John" not in only.records[0]["text"] and "Smith" not in only.records[0]["text"] and only.n == 1


def test_other_languages_and_long_notes_are_flagged(spec) -> None:  # type: ignore[no-untyped-def]
    from medmaas.kinds.text.kind import TextKind

    batch = TextKind.decode(spec, {"rows": [
        {"text": "El paciente presenta náuseas y dolor de cabeza después de la segunda dosis del medicamento."},
        {"text": "Severe vomiting. " * 40},
        {"text": "No side effects at all, felt completely normal after the first week."}]})
    assert "does not look like English" in batch.warnings[0][0]
    assert any("longer than the 32 tokens" in w for w in batch.warnings[1])
    assert batch.warnings[2] == []


def test_notes_of_different_lengths_batch_without_changing_answers(tmp_path: Path) -> None:
    from medmaas.runtime.batcher import join_feeds
    from medmaas.runtime.loaded import load_bundle

    model = load_bundle(_bundle_dir(tmp_path))
    short = model.decode({"rows": [{"text": "No problems."}]})
    long = model.decode({"rows": [{"text": "Severe vomiting and a rash all over, went to the emergency room."}]})
    alone = [model.run(b.feeds)["probabilities"] for b in (short, long)]
    joined = model.run({k: join_feeds([short.feeds[k], long.feeds[k]]) for k in short.feeds})["probabilities"]
    np.testing.assert_allclose(joined, np.vstack(alone), atol=1e-6)


def _bundle_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bundle"
    spec = _spec(directory)
    (directory / "spec.json").write_text(spec.model_dump_json())
    return directory


def test_too_few_notes_for_a_validation_split_is_a_clear_error() -> None:
    from medmaas.exceptions import DataError
    from medmaas.kinds.text.kind import TextKind

    ds = note_dataset(n=12, classes=("none", "severe"))
    ds.classes = ("none", "mild", "severe")
    ds.y = np.arange(12) % 3  # 12 training notes: a 15% split holds 2, fewer than 3 classes
    with pytest.raises(DataError, match="too few notes to hold out a validation split"):
        TextKind(candidates=["tfidf"]).fit(ds)


def test_a_dataset_built_in_memory_is_deidentified_by_the_kind() -> None:
    from medmaas.kinds.text.kind import TextKind

    ds = note_dataset(n=40)
    ds.texts[0] = "Seen by Dr. Healey on 7/22/2019. " + ds.texts[0]
    train, test, _ = TextKind(candidates=["tfidf"]).split(ds)
    assert train.deidentified and test.deidentified
    assert not any("Healey" in t for t in train.texts + test.texts)
