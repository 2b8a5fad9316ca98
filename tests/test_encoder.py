"""The sentence model: its tokenizer, its vectors, and a model file that cannot be used."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.encoder import (
    DIMENSIONS,
    MODEL_ID,
    EncoderUnavailable,
    SentenceEncoder,
    WordPieceTokenizer,
    load_encoder,
    model_identity,
    shipped_model_path,
)


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer()


def pieces(tokenizer: WordPieceTokenizer, text: str, max_tokens: int = 256) -> list[str]:
    names = {i: piece for piece, i in tokenizer.ids.items()}
    return [names[i] for i in tokenizer.token_ids(text, max_tokens)]


def test_text_splits_into_the_model_s_own_word_pieces(tokenizer: WordPieceTokenizer) -> None:
    # As the model's tokenizer (Hugging Face's BertWordPiece, uncased) splits them.
    assert pieces(tokenizer, "Vitamin K2's role in osteocalcin") == [
        "[CLS]",
        "vitamin",
        "k",
        "##2",
        "'",
        "s",
        "role",
        "in",
        "os",
        "##te",
        "##oca",
        "##lc",
        "##in",
        "[SEP]",
    ]
    assert pieces(tokenizer, "menaquinone-7 (MK-7)") == [
        "[CLS]",
        "men",
        "##aq",
        "##uin",
        "##one",
        "-",
        "7",
        "(",
        "mk",
        "-",
        "7",
        ")",
        "[SEP]",
    ]


def test_accents_case_and_control_characters_are_folded_away(tokenizer: WordPieceTokenizer) -> None:
    assert pieces(tokenizer, "Café\x00 NAÏVE\tnaive") == ["[CLS]", "cafe", "naive", "naive", "[SEP]"]


def test_a_word_too_long_or_without_pieces_is_one_unknown_piece(tokenizer: WordPieceTokenizer) -> None:
    assert pieces(tokenizer, "x" * 101) == ["[CLS]", "[UNK]", "[SEP]"]
    assert "[UNK]" not in pieces(tokenizer, "x" * 100)
    assert pieces(tokenizer, "bone \u2603\u2603 tissue") == ["[CLS]", "bone", "[UNK]", "tissue", "[SEP]"]


def test_a_long_text_is_cut_to_the_token_limit(tokenizer: WordPieceTokenizer) -> None:
    assert pieces(tokenizer, "one two three four five", max_tokens=4) == ["[CLS]", "one", "two", "[SEP]"]
    assert len(tokenizer.token_ids("bone " * 1000)) == 256


def test_a_file_that_is_no_vocabulary_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "vocab.txt"
    bad.write_text("just\nsome\nwords\n", encoding="utf-8")
    with pytest.raises(EncoderUnavailable, match="not a WordPiece vocabulary"):
        WordPieceTokenizer(bad)
    with pytest.raises(EncoderUnavailable, match="cannot read"):
        WordPieceTokenizer(tmp_path / "missing.txt")


def test_vectors_are_unit_length_and_closer_for_the_same_meaning() -> None:
    encoder = load_encoder(None)
    vectors = encoder.encode(
        ["is bone alive", "Bone is living tissue that is always being rebuilt.", "How long should I boil an egg?", ""]
    )
    assert vectors.shape == (4, DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > 0.5 > 0.1 > vectors[0] @ vectors[2]


def test_vectors_do_not_depend_on_the_batch_they_are_encoded_in() -> None:
    encoder = load_encoder(None)
    texts = ["short", "a much longer sentence about vitamin D and the bones of older women", "mid length text"]
    together = encoder.encode(texts)
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_the_shipped_model_is_found_and_identified() -> None:
    path = shipped_model_path()
    assert path is not None and path.name == "model.onnx"
    assert model_identity(path).startswith(f"{MODEL_ID}:{path.stat().st_size}:")
    assert model_identity(None) == "none" and model_identity(Path("/nonexistent/model.onnx")) == "none"


def test_a_damaged_or_missing_model_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    shipped = shipped_model_path()
    assert shipped is not None
    damaged = tmp_path / "model.onnx"
    shutil.copy(shipped, damaged)
    with damaged.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(EncoderUnavailable, match="not the expected file"):
        SentenceEncoder(damaged)
    with pytest.raises(EncoderUnavailable, match="cannot read the sentence model"):
        SentenceEncoder(tmp_path / "missing.onnx")


def test_the_model_s_threads_do_not_spin_between_questions() -> None:
    """Spinning threads held the second core after every question and doubled its CPU time (docs/speed.md)."""
    options = load_encoder(None).session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_the_bot_keeps_openblas_to_one_thread_unless_told_otherwise() -> None:
    """Idle OpenBLAS threads busy-wait after each product; an explicit OPENBLAS_NUM_THREADS is left alone."""
    code = "import bot, os; print(os.environ['OPENBLAS_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    alone = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    told = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "OPENBLAS_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert (alone.stdout.strip(), told.stdout.strip()) == ("1", "2")
