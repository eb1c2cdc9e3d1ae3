"""The batches cut from prepared token ids: contiguous streams for a language model's truncated BPTT, and
length-bucketed padded batches of whole texts for a classifier."""

from __future__ import annotations

import numpy as np

from lstmtext.errors import UserError


class TextBatches:
    """Length-bucketed batches of whole texts, padded with 0, lengths kept on the CPU.

    Each epoch the texts are shuffled, cut into pools of ``50 * batch_size``, each pool sorted by
    length and cut into batches, and the batches shuffled: similar lengths share a batch (little
    padding) while the order still changes every epoch.
    """

    def __init__(self, tokens: np.ndarray, offsets: np.ndarray, labels: np.ndarray, batch_size: int,
                 max_length: int, bucket: bool = True) -> None:
        self.tokens, self.offsets, self.labels = tokens, np.asarray(offsets), np.asarray(labels)
        self.lengths = np.minimum(np.diff(self.offsets), max_length)
        self.truncated = int(np.count_nonzero(np.diff(self.offsets) > max_length))
        self.batch_size = batch_size
        self.max_length = max_length
        self.bucket = bucket
        self.order: list[np.ndarray] = self.plan(None)

    def __len__(self) -> int:
        return len(self.order)

    def plan(self, rng: np.random.Generator | None) -> list[np.ndarray]:
        n = len(self.lengths)
        idx = np.arange(n) if rng is None else rng.permutation(n)
        if self.bucket:
            pool = 50 * self.batch_size
            idx = np.concatenate([p[np.argsort(self.lengths[p], kind="stable")]
                                  for p in np.array_split(idx, max(1, -(-n // pool)))]) if n else idx
        batches = [idx[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def shuffle(self, seed: int) -> None:
        self.order = self.plan(np.random.default_rng(seed))

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = self.order[i]
        lengths = self.lengths[rows]
        x = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
        for r, (row, length) in enumerate(zip(rows, lengths)):
            start = int(self.offsets[row])
            x[r, :length] = self.tokens[start:start + length]
        return x, lengths.astype(np.int64), self.labels[rows].astype(np.int64)


class LMBatches:
    """Contiguous streams for truncated BPTT, as in PyTorch's word_language_model.

    The token array is cut into ``batch_size`` equal streams laid side by side; batch ``i``
    is columns ``[i*seq_len, (i+1)*seq_len)`` of every stream, and its targets are shifted by
    one. Consecutive batches continue each stream, so the LSTM state can be carried across them.

    With ``shift`` the windows of an epoch start at an offset in ``[0, seq_len)`` that
    ``start_epoch`` draws, so a token is not at the same place in its window every epoch (the
    first of a window never has earlier steps to learn from); the window count is the same for
    every offset, at most one fewer than without the shift.
    """

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, shift: bool = False) -> None:
        per_stream = len(tokens) // batch_size
        if per_stream < 2:
            raise UserError(f"only {len(tokens)} tokens: too few for --batch-size {batch_size}",
                            "lower --batch-size or give more text")
        self.streams = tokens[: per_stream * batch_size].reshape(batch_size, per_stream)
        self.seq_len = seq_len
        usable = per_stream - 1
        self.count = usable // seq_len
        if self.count == 0:
            self.count, self.seq_len = 1, usable
        shifted = (usable - seq_len + 1) // seq_len  # windows that fit after an offset of up to seq_len - 1
        self.shift = shift and shifted >= 1
        if self.shift:
            self.count = shifted
        self.offset = 0
        self.batch_size = batch_size

    def __len__(self) -> int:
        return self.count

    @property
    def tokens_per_batch(self) -> int:
        return self.batch_size * self.seq_len

    def start_epoch(self, seed: int, epoch: int) -> None:
        """Draw this epoch's window offset (a function of the seed and the epoch, so resumes agree)."""
        if self.shift:
            self.offset = int(np.random.default_rng([seed, epoch]).integers(self.seq_len))

    def window(self, i: int) -> np.ndarray:
        """Batch ``i``'s inputs and targets in one array: inputs are ``[:, :-1]``, targets ``[:, 1:]``."""
        start = self.offset + i * self.seq_len
        end = min(start + self.seq_len, self.streams.shape[1] - 1)
        return np.asarray(self.streams[:, start:end + 1], dtype=np.int64)

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        window = self.window(i)
        return window[:, :-1], window[:, 1:]
