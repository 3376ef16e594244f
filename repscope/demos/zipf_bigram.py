"""A synthetic language whose true next-word law is known: Zipfian words, sparse word pairs.

The three-phases demo's language (its recipe is in :mod:`repscope.demos.three_phases`). Because
``P(next | current)`` is known exactly, a model's loss can be split into what it has learned of
word frequencies and what of word pairs (:meth:`ZipfBigramLanguage.divergences`).
"""

from __future__ import annotations

import numpy as np
import torch


class ZipfBigramLanguage:
    """A Markov chain over ``vocab`` words with Zipfian frequencies and a few successors per word.

    - **Zipf law** ``zipf``: Zipf(``exponent``) over frequency ranks; which word id gets which
      rank is a random permutation (so word ids carry no frequency information).
    - **Successors**: each word has ``successors`` distinct successors, drawn without replacement
      with probability ∝ ``zipf``, weighted by Dirichlet(``concentration``).
    - **Next word**: ``P(· | cur) = p_unigram · zipf + (1 − p_unigram) · successors(cur)``;
      the first word of a sequence is drawn from ``zipf``.

    The text's own word frequencies, ``unigram``, are the chain's stationary law: close to the
    Zipf law but not equal to it (successors favour some words), and what a model that knows
    word frequencies and nothing else predicts.

    Everything is drawn from ``seed``, which is fixed by the demo (the run's seed changes the
    model and the data stream, not the language).

    Parameters
    ----------
    vocab : int, default 2048
    exponent : float, default 1.1
    successors : int, default 8
    concentration : float, default 0.5
    p_unigram : float, default 0.2
    seed : int, default 0

    Attributes
    ----------
    zipf : ndarray of shape (vocab,)
        The Zipf law of the generator, by word id.
    unigram : ndarray of shape (vocab,)
        The word frequencies of the text (the stationary law of the chain), by word id.
    successor_ids, successor_probs : ndarray of shape (vocab, successors)
        Each word's successors and their weights (rows sum to 1).

    Examples
    --------
    >>> lang = ZipfBigramLanguage(64, successors=4, seed=0)
    >>> lang.sample(3, 8, np.random.default_rng(0)).shape
    (3, 8)
    >>> bool(np.allclose(lang.transition_matrix().sum(1), 1))
    True
    """

    def __init__(
        self,
        vocab: int = 2048,
        *,
        exponent: float = 1.1,
        successors: int = 8,
        concentration: float = 0.5,
        p_unigram: float = 0.2,
        seed: int = 0,
    ):
        rng = np.random.default_rng(seed)
        by_rank = np.arange(1, vocab + 1, dtype=float) ** -exponent
        self.zipf = np.empty(vocab)
        self.zipf[rng.permutation(vocab)] = by_rank / by_rank.sum()
        self.successor_ids = np.stack(
            [rng.choice(vocab, successors, replace=False, p=self.zipf) for _ in range(vocab)]
        )
        self.successor_probs = rng.dirichlet(np.full(successors, concentration), size=vocab)
        self.vocab, self.p_unigram = vocab, p_unigram
        self._zipf_cdf = np.cumsum(self.zipf)
        self._successor_cdf = np.cumsum(self.successor_probs, axis=1)
        self.unigram = self._stationary()

    def _stationary(self) -> np.ndarray:
        """The chain's stationary law (power iteration; it mixes within a few dozen steps
        because every row gives ``p_unigram`` of its mass to the Zipf law)."""
        p, law = self.transition_matrix(), self.zipf.copy()
        for _ in range(200):
            law, last = law @ p, law
            if np.abs(law - last).sum() < 1e-14:
                break
        return law / law.sum()

    def transition_matrix(self) -> np.ndarray:
        """``P[cur, next]``, shape ``(vocab, vocab)``; rows sum to 1."""
        p = np.tile(self.p_unigram * self.zipf, (self.vocab, 1))
        rows = np.arange(self.vocab)[:, None]
        np.add.at(p, (rows, self.successor_ids), (1 - self.p_unigram) * self.successor_probs)
        return p

    def entropies(self) -> dict[str, float]:
        """Entropies in nats: ``zipf``, H of the generator's Zipf law; ``unigram``, H of the
        text's word frequencies (the loss of the best model that knows frequencies only);
        ``next``, H(next | current) with the current word drawn from the text's frequencies (the
        loss of the true law, the best possible)."""
        p = self.transition_matrix()
        h_next = -(p * np.log(p)).sum(1)
        return {
            "zipf": _entropy(self.zipf),
            "unigram": _entropy(self.unigram),
            "next": float(self.unigram @ h_next),
        }

    def sample(self, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` sequences of ``length`` word ids, shape ``(n, length)``."""
        out = np.empty((n, length), dtype=np.int64)
        out[:, 0] = self._draw_zipf(rng.random(n))
        for i in range(1, length):
            cur = out[:, i - 1]
            fresh = rng.random(n) < self.p_unigram
            pick = (rng.random(n)[:, None] > self._successor_cdf[cur]).sum(1)
            pick = pick.clip(0, self.successor_ids.shape[1] - 1)
            out[:, i] = np.where(
                fresh, self._draw_zipf(rng.random(n)), self.successor_ids[cur, pick]
            )
        return out

    def _draw_zipf(self, u: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._zipf_cdf, u).clip(0, self.vocab - 1)

    def divergences(self, logits: torch.Tensor, ids: torch.Tensor) -> dict[str, float]:
        """The model's loss split by what the language is known to be.

        Parameters
        ----------
        logits : Tensor of shape (n, T, vocab)
            The model's next-word logits at every position of ``ids``.
        ids : Tensor of shape (n, T + 1)
            Sequences of the language.

        Returns
        -------
        dict
            ``loss``: cross-entropy on the true next words (nats); ``kl_unigram``: mean
            KL(unigram ‖ model) with the text's word frequencies, small while the model
            predicts word frequencies and nothing else; ``kl_true``: mean
            KL(true law ‖ model), what remains to be learned.
        """
        logq = torch.log_softmax(logits.double(), dim=-1).reshape(-1, self.vocab)
        cur, nxt = ids[:, :-1].reshape(-1), ids[:, 1:].reshape(-1)
        unigram = torch.from_numpy(self.unigram)
        true = torch.from_numpy(self.transition_matrix())[cur]
        loss = -logq.gather(1, nxt[:, None]).mean()
        kl_unigram = (unigram * (unigram.log() - logq)).sum(1).mean()
        kl_true = (true * (true.clamp_min(1e-300).log() - logq)).sum(1).mean()
        return {"loss": float(loss), "kl_unigram": float(kl_unigram), "kl_true": float(kl_true)}


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())
