"""Zero-shot CLIP-style models: ensembling maths, prompts, subsets, ZPE, text cache, CLI.

Every model here is a tiny randomly initialised open_clip (or transformers) CLIP, saved to tmp_path
and loaded back through the real loading path (``open_clip.create_model_and_transforms`` with a
local weights file, ``CLIPModel.from_pretrained`` on a ``save_pretrained`` folder): no network.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

open_clip = pytest.importorskip("open_clip")
torch = pytest.importorskip("torch")

from reassess.models import zeroshot  # noqa: E402
from reassess.models.registry import ModelSpecError, create_model  # noqa: E402

SUBSET = np.array([1, 281, 657, 744, 967])  # goldfish, tabby, missile, missile, espresso


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models run fastest on one thread (and do not spin against other processes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def spec(tiny_clip) -> str:
    config, weights = tiny_clip
    return f"open_clip:{config}@{weights}"


def _reference(tiny_clip):
    """The same model loaded directly with open_clip, and its tokenizer."""
    config, weights = tiny_clip
    model, _, preprocess = open_clip.create_model_and_transforms(
        config.stem, pretrained=str(weights)
    )
    return model.eval(), open_clip.get_tokenizer(config.stem), preprocess


def _hand_weights(model, tokenizer, texts_per_class) -> np.ndarray:
    """CLIP ensembling by hand: normalise each prompt embedding, average, normalise again."""
    rows = []
    with torch.no_grad():
        for texts in texts_per_class:
            emb = model.encode_text(tokenizer(texts)).double()
            emb = emb / emb.norm(dim=-1, keepdim=True)
            mean = emb.mean(dim=0)
            rows.append((mean / mean.norm()).numpy())
    return np.stack(rows)


def test_shipped_names_and_templates_are_open_clips(tiny_clip):
    from open_clip import zero_shot_metadata as meta

    names = zeroshot.clip_class_names()
    assert names == list(meta.IMAGENET_CLASSNAMES)
    assert names[657] == names[744] == "missile" and names[836] == names[837] == "sunglasses"
    assert len(set(names)) == 998
    openai = zeroshot.clip_templates("openai")
    assert len(openai) == 80 and len(zeroshot.clip_templates("simple")) == 7
    assert [t.replace("{}", "cat") for t in openai] == [
        f("cat") for f in meta.OPENAI_IMAGENET_TEMPLATES
    ]


def test_classifier_matches_hand_ensemble_and_maps_subset(spec, tiny_clip):
    loaded = create_model(
        spec, options={"templates": "simple", "class_subset": SUBSET, "progress": False}
    )
    model, tokenizer, _ = _reference(tiny_clip)
    names = zeroshot.clip_class_names()
    templates = zeroshot.clip_templates("simple")
    expected = _hand_weights(
        model, tokenizer, [[t.format(names[c]) for t in templates] for c in SUBSET]
    )
    got = loaded.module.class_weights.T.numpy()
    np.testing.assert_allclose(got, expected, atol=2e-6)
    # The two "missile" classes get the same prompts, hence the same weights.
    np.testing.assert_allclose(got[2], got[3], atol=1e-7)

    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        logits = loaded.module(images)
        features = model.encode_image(images).double()
    features = features / features.norm(dim=-1, keepdim=True)
    scale = model.logit_scale.exp().item()
    assert logits.shape == (3, 1000)
    np.testing.assert_allclose(
        logits[:, SUBSET].numpy(), scale * features.numpy() @ expected.T, atol=1e-4
    )
    outside = np.setdiff1d(np.arange(1000), SUBSET)
    assert torch.isneginf(logits[:, outside]).all()
    assert set(logits.argmax(dim=1).tolist()) <= set(SUBSET.tolist())
    assert loaded.details["zero_shot"]["num_classes"] == 5
    assert loaded.details["zero_shot"]["prompts_encoded"] == 5 * 7


def test_preprocessing_equals_open_clips(spec, tiny_clip):
    from PIL import Image
    from skimage.data import chelsea

    loaded = create_model(spec, options={"templates": "simple", "class_subset": SUBSET[:1]})
    _, _, preprocess = _reference(tiny_clip)
    photo = Image.fromarray(chelsea())
    np.testing.assert_allclose(
        loaded.transform()(photo).numpy(), preprocess(photo).numpy(), atol=1e-6
    )


def test_text_cache_is_reused_without_calling_the_text_encoder(spec, monkeypatch, tmp_path):
    monkeypatch.setenv("REASSESS_CACHE", str(tmp_path / "cache"))  # start empty
    calls = []
    original = open_clip.model.CLIP.encode_text

    def counting(self, text, normalize=False):
        calls.append(len(text))
        return original(self, text, normalize=normalize)

    monkeypatch.setattr(open_clip.model.CLIP, "encode_text", counting)
    options = {"templates": "simple", "class_subset": SUBSET, "progress": False}
    first = create_model(spec, options=options)
    assert sum(calls) == 35 and first.details["zero_shot"]["text_cache"]["hit"] is False
    calls.clear()
    second = create_model(spec, options=options)
    assert calls == [] and second.details["zero_shot"]["text_cache"]["hit"] is True
    assert torch.equal(first.module.class_weights, second.module.class_weights)
    cache_file = zeroshot.text_cache._cache_path(second.details["zero_shot"]["text_cache"]["key"])
    assert cache_file.exists()
    # Other prompts are another cache entry: the encoder runs again.
    create_model(spec, options={**options, "templates": "openai", "class_subset": SUBSET[:2]})
    assert sum(calls) == 2 * 80


def test_prompts_file_alone_and_pooled(spec, tiny_clip, tmp_path):
    prompts = tmp_path / "cupl.json"
    prompts.write_text(
        json.dumps(
            {
                "goldfish": ["A small orange fish in a bowl.", "A goldfish swimming."],
                "n02123045": ["A striped tabby cat."],  # 281 by WordNet id
                "missile": ["A rocket on a launcher."],  # both 657 and 744
                "967": "A small cup of espresso.",  # by index, a single sentence
            }
        )
    )
    model, tokenizer, _ = _reference(tiny_clip)
    alone = create_model(spec, options={"prompts": prompts, "class_subset": SUBSET})
    expected_texts = [
        ["A small orange fish in a bowl.", "A goldfish swimming."],
        ["A striped tabby cat."],
        ["A rocket on a launcher."],
        ["A rocket on a launcher."],
        ["A small cup of espresso."],
    ]
    np.testing.assert_allclose(
        alone.module.class_weights.T.numpy(),
        _hand_weights(model, tokenizer, expected_texts),
        atol=2e-6,
    )
    assert alone.details["zero_shot"]["templates"] == "none"
    assert len(alone.details["zero_shot"]["prompts_sha256"]) == 64

    pooled = create_model(
        spec, options={"prompts": prompts, "templates": "simple", "class_subset": SUBSET[:2]}
    )
    names = zeroshot.clip_class_names()
    pooled_texts = [
        [t.format(names[c]) for t in zeroshot.clip_templates("simple")] + extra
        for c, extra in zip(SUBSET[:2], expected_texts[:2], strict=True)
    ]
    np.testing.assert_allclose(
        pooled.module.class_weights.T.numpy(),
        _hand_weights(model, tokenizer, pooled_texts),
        atol=2e-6,
    )
    with pytest.raises(
        ValueError, match=r"cupl.json: no prompt for 1 of the 2 classes.*\b0 \(tench\)"
    ):
        create_model(spec, options={"prompts": prompts, "class_subset": [0, 1]})


def test_class_names_file(tmp_path):
    renames = tmp_path / "names.json"
    renames.write_text(
        json.dumps({"836": "dark glasses", "n04356056": "sunglasses", "tench": "tinca"})
    )
    names = zeroshot.load_class_names(renames)
    assert names[836] == "dark glasses" and names[837] == "sunglasses" and names[0] == "tinca"
    prompt_set = zeroshot.build_prompt_set("simple", None, renames)
    assert prompt_set.texts(836)[0] == "itap of a dark glasses."
    assert prompt_set.sources["class_names_file"] == str(renames)
    ambiguous = tmp_path / "ambiguous.json"
    ambiguous.write_text(json.dumps({"missile": "rocket"}))
    with pytest.raises(
        ValueError, match=r"ambiguous.json: class name 'missile' is used by classes \[657, 744\]"
    ):
        zeroshot.load_class_names(ambiguous)
    lines = tmp_path / "names.txt"
    lines.write_text("\n".join(f"class {i}" for i in range(999)))
    with pytest.raises(ValueError, match="names.txt: expected 1000 non-empty class names.*got 999"):
        zeroshot.load_class_names(lines)


def test_zpe_scores_match_hand_computation():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(6, 4))
    prompts = rng.normal(size=(3, 5, 4))
    scale = 10.0
    unit_images = images / np.linalg.norm(images, axis=1, keepdims=True)
    unit_prompts = prompts / np.linalg.norm(prompts, axis=2, keepdims=True)
    logits = scale * np.einsum("nd,tcd->ntc", unit_images, unit_prompts)
    expected = (logits - logits.mean(axis=0, keepdims=True)).max(axis=2).mean(axis=0)
    np.testing.assert_allclose(
        zeroshot.zpe_scores(images, prompts, scale, chunk=4), expected, rtol=1e-5
    )


def test_zpe_keeps_discriminative_templates_and_drops_spurious_ones():
    """4 classes; templates 0-3 describe the class, 4-5 mostly a concept every image shares."""
    dim, classes = 6, 4
    eye = np.eye(dim)
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(classes), 25)
    images = eye[labels] + eye[5] + 0.05 * rng.normal(size=(len(labels), dim))
    good = [eye[:classes] + q * eye[4] for q in (0.1, 0.3, 0.5, 0.7)]  # less and less specific
    spurious = [eye[5] + q * eye[:classes] for q in (0.10, 0.12)]
    prompts = np.stack(good + spurious)  # (6 templates, 4 classes, 6)
    result = zeroshot.zpe_weighting(images, prompts, logit_scale=100.0)
    assert result.kept.tolist() == [True, True, False, False, False, False]
    assert np.argmax(result.weights) == 0 and np.isclose(result.weights.sum(), 1.0)
    # Without the debiasing the spurious templates would win: their raw max logit is higher.
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    raw = np.einsum("nd,tcd->ntc", unit(images), unit(prompts)).max(axis=2).mean(axis=0)
    assert raw[4:].min() > raw[:4].max()
    assert zeroshot.select_templates(np.array([1.0, 1.0, 1.0])).all()  # no spread: keep all


def test_weighted_classifier_uses_kept_templates(tmp_path):
    embeddings = np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    weights = zeroshot.ensemble_class_weights(embeddings, np.array([0, 2, 4]), [1, 0, 3, 1])
    np.testing.assert_allclose(weights[0], [1, 0, 0], atol=1e-7)
    mixed = 3 * np.array([0, 0, 1]) + np.array([1, 1, 0]) / np.sqrt(2)
    np.testing.assert_allclose(weights[1], mixed / np.linalg.norm(mixed), atol=1e-6)


def test_spec_and_option_errors(tiny_clip, tmp_path):
    config, weights = tiny_clip
    with pytest.raises(ModelSpecError, match="needs weights: open_clip:ViT-B-32@TAG.*openai"):
        create_model("open_clip:ViT-B-32")
    with pytest.raises(ModelSpecError, match="no architecture 'ViT-B-33'; did you mean ViT-B-32"):
        create_model("open_clip:ViT-B-33@openai")
    with pytest.raises(
        ModelSpecError, match="nope.pt: neither an open_clip pretrained tag nor a file"
    ):
        create_model(f"open_clip:{config}@{tmp_path / 'nope.pt'}")
    other = tmp_path / "other.pt"
    torch.save({"visual.conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(
        ModelSpecError, match="other.pt: could not load into open_clip reassess-tiny-clip"
    ):
        create_model(f"open_clip:{config}@{other}", options={"class_subset": [0]})
    with pytest.raises(ModelSpecError, match="option templates applies to zero-shot models"):
        create_model("timm:resnet18", options={"templates": "simple", "device": "cpu"})
    with pytest.raises(ValueError, match="--prompt-weighting needs the test images"):
        create_model(f"open_clip:{config}@{weights}", options={"prompt_weighting": True})
    with pytest.raises(ValueError, match="not a template set"):
        create_model(f"open_clip:{config}@{weights}", options={"templates": "fancy"})


def _image_folder(root: Path) -> Path:
    from PIL import Image
    from skimage import data

    for cls, photos in {
        "n02123045": ["chelsea", "cat"],
        "967": ["coffee"],
        "1": ["astronaut"],
    }.items():
        (root / cls).mkdir(parents=True)
        for name in photos:
            Image.fromarray(getattr(data, name)()).convert("RGB").save(root / cls / f"{name}.jpg")
    return root


def test_eval_end_to_end_writes_predictions_and_metrics(spec, tmp_path):
    from typer.testing import CliRunner

    from reassess.cli.main import app

    folder = _image_folder(tmp_path / "photos")
    templates = tmp_path / "templates.txt"
    templates.write_text("a photo of a {}.\na blurry photo of the {}.\nart of the {}.\n")
    common = ["--model", spec, "--data", f"folder:{folder}", "--templates", str(templates)]
    common += ["--workers", "0", "--batch-size", "2", "--no-progress"]

    weighted = tmp_path / "weighted"
    result = CliRunner().invoke(
        app, ["eval", *common, "--out", str(weighted), "--prompt-weighting"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads((weighted / "run.json").read_text())
    report = info["model"]["zero_shot"]["prompt_weighting"]
    assert report["num_images"] == 4
    assert 1 <= len(report["kept"]) < 3 and len(report["kept"]) + len(report["dropped"]) == 3
    assert f"prompt weighting kept {len(report['kept'])} of 3 templates" in result.output
    assert set(report["weights"]) == set(report["kept"])
    assert abs(sum(report["weights"].values()) - 1) < 1e-4
    assert info["model_options"] == {"templates": str(templates), "prompt_weighting": "True"}
    assert set(report["scores"]) == {
        "a photo of a {}.",
        "a blurry photo of the {}.",
        "art of the {}.",
    }

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", *common, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output[result.output.index("{") :])
    assert metrics["top1"]["n"] == 4
    table = pq.read_table(out / "predictions.parquet")
    assert table.num_rows == 4
    topk = np.array(table.column("topk").to_pylist())
    assert topk.shape == (4, 5) and topk.min() >= 0 and topk.max() < 1000
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["family"] == "open_clip"
    assert run["model"]["zero_shot"]["num_templates"] == 3
    assert len(run["model"]["zero_shot"]["templates_sha256"]) == 64
    assert run["model"]["zero_shot"]["text_cache"]["hit"] is True  # prompts encoded once, above
    assert run["model_options"] == {"templates": str(templates)}
    # Same run folder, other prompt options: refused rather than mixed.
    result = CliRunner().invoke(app, ["eval", *common, "--out", str(out), "--templates", "openai"])
    assert result.exit_code != 0 and "model options" in str(result.exception)


def test_hf_clip_from_a_saved_folder(tmp_path):
    transformers = pytest.importorskip("transformers")
    from open_clip.tokenizer import SimpleTokenizer

    simple = SimpleTokenizer()
    special = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {special.get(k, k): v for k, v in simple.encoder.items()}
    merges = [pair for pair, _ in sorted(simple.bpe_ranks.items(), key=lambda kv: kv[1])]
    folder = tmp_path / "hf-tiny-clip"
    transformers.CLIPTokenizer(vocab=vocab, merges=merges).save_pretrained(folder)
    transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    config = transformers.CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(folder)

    loaded = create_model(
        f"hf-clip:{folder}",
        options={"templates": "simple", "class_subset": SUBSET[:2], "progress": False},
    )
    model = transformers.CLIPModel.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    names = zeroshot.clip_class_names()
    rows = []
    with torch.no_grad():
        for c in SUBSET[:2]:
            batch = tokenizer(
                [t.format(names[c]) for t in zeroshot.clip_templates("simple")],
                padding=True,
                return_tensors="pt",
            )
            emb = zeroshot.backbones._features(model.get_text_features(**batch)).double()
            emb = emb / emb.norm(dim=-1, keepdim=True)
            rows.append((emb.mean(0) / emb.mean(0).norm()).numpy())
    np.testing.assert_allclose(loaded.module.class_weights.T.numpy(), np.stack(rows), atol=2e-6)
    assert loaded.data_config["input_size"] == (3, 32, 32)
    assert loaded.data_config["interpolation"] == "bicubic"
    with torch.no_grad():
        logits = loaded.module(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 1000) and torch.isfinite(logits[:, SUBSET[:2]]).all()


def test_models_command_lists_specs():
    from typer.testing import CliRunner

    from reassess.cli.main import app

    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    for example in ("open_clip:ViT-B-32@openai", "hf-clip:openai/clip-vit-base-patch32", "lite0"):
        assert example in result.output
    result = CliRunner().invoke(app, ["models", "open_clip", "--filter", "ViT-B-32@openai"])
    assert result.exit_code == 0 and "open_clip:ViT-B-32@openai" in result.output.splitlines()
