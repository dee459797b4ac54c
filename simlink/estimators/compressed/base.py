"""The data path every compressed CSI-feedback method shares (docs/methods.md, "LORA feedback").

1. UE: its DL CSI (``ue_csi``: the true channel, or its own LS / LMMSE
   estimate from the DL pilots), per UE antenna.
2. UE: angular-delay transform, first ``n_taps`` delay taps kept
   (:mod:`simlink.feedback.transform`), scaled by a constant learned from the
   training data, encoded to ``M = round(cr * 2 n_taps n_bs)`` reals.
3. UE: quantised to ``bits`` bits each (:class:`~simlink.feedback.quantizers.Quantizer`)
   and written as a real bit stream, ``n_ue * M * bits`` bits per report.
4. The bits cross the feedback channel (the scenario's binary symmetric
   channel when ``link.feedback_ber > 0``).
5. BS: the codes are read back from the bits alone, dequantised, decoded and
   transformed back to the band (the dropped taps are zero).

A method supplies its encoder and decoder (Keras layers, :meth:`CompressedFeedback.networks`)
and says whether it trains them; learned ones derive from
:class:`LearnedFeedback`, which trains the pair end to end (MSE on the
scaled truncated CSI, Adam at a fixed learning rate, early stopping on a
validation split), with the quantiser in the loop (``quantizer_training:
joint``) or fitted afterwards to the frozen network (``post``).
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import keras
import numpy as np
import tensorflow as tf
from pydantic import Field

from simlink.channels.dataset import Dataset
from simlink.estimators.base import FeedbackEstimator, Problem
from simlink.estimators.lmmse import LMMSE
from simlink.estimators.ls import ls_estimate
from simlink.feedback.bits import bit2num, num2bit
from simlink.feedback.quantizers import Quantizer, QuantizerMode
from simlink.feedback.transform import csi_from_vectors, csi_vectors
from simlink.nn.train import Trainer, read_checkpoint
from simlink.observation import Observation
from simlink.observation.grid import complex_awgn
from simlink.system import PosFloat, PosInt, SystemCfg

#: compression ratio ``M / (2 n_taps n_bs)``
Ratio = Annotated[float, Field(gt=0, le=1)]
#: bits per codeword entry
Bits = Annotated[int, Field(ge=1, le=16)]
#: validation share of the training split
Fraction = Annotated[float, Field(gt=0, lt=1)]

#: training samples at most used to set the input scale and calibrate the quantiser
_CALIBRATION_ROWS = 4096


def noisy_csi(H: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``H + N``, ``N ~ CN(0, 10^(-snr_db/10))`` per entry (unit-power channels).

    Input / output: [b, n_bs, n_ue, n_sc] complex64.
    """
    return (H + complex_awgn(H.shape, 10.0 ** (-snr_db / 10.0), rng)).astype(np.complex64)


class CompressedFeedback(FeedbackEstimator):
    """Base of the compressed CSI-feedback methods (module docstring).

    Parameters
    ----------
    ue_csi : "perfect", "ls" or "lmmse"
        The CSI the UE compresses: the true DL channel (the papers' setting),
        or its own estimate from the DL comb pilots (LS with linear
        interpolation, or frequency LMMSE with the training split's
        covariance). NMSE is always against the true channel.
    n_taps : int or None
        Delay taps kept after the angular-delay transform (``Nc``; None: every
        tap, i.e. ``n_subcarriers_dl``).
    cr : float
        Compression ratio ``M / (2 Nc n_bs)``: ``M = round(cr 2 Nc n_bs)`` reals per UE antenna.
    bits : int
        Bits per codeword entry (``B``): the report is ``n_ue M B`` bits.
    input_snr_db : float or None
        Corrupt the UE's CSI with white noise at this SNR, in training and
        in test (the clean CSI stays the training target): the papers'
        robustness study. None: no added noise.

    Input: ``obs.H_dl`` (``ue_csi: perfect``) or ``obs.y_pilots``, and ``obs.feedback_channel``.
    Output: [b, n_bs, n_ue, n_sc_dl] complex64, rebuilt from the report bits only.
    """
    #: whether ``fit`` trains the encoder and decoder (else it only scales and calibrates)
    learns_networks: ClassVar[bool] = False
    #: one quantiser step and offset per codeword entry instead of one for all
    per_entry_quantizer: ClassVar[bool] = False

    ue_csi: Literal["perfect", "ls", "lmmse"] = "perfect"
    n_taps: PosInt | None = None
    cr: Ratio = 1 / 16
    bits: Bits = 4
    input_snr_db: float | None = None

    # -- what it needs -------------------------------------------------------
    @property
    def requires(self) -> frozenset[str]:
        """``feedback`` and what the UE's CSI comes from (``dl_true`` or ``dl_pilots``)."""
        return frozenset({"feedback", "dl_true" if self.ue_csi == "perfect" else "dl_pilots"})

    def supported_pilot_modes(self) -> frozenset[str] | None:
        return None if self.ue_csi == "perfect" else frozenset({"comb"})

    def system_problems(self, system: SystemCfg) -> list[Problem]:
        problems = super().system_problems(system)
        if self.n_taps is not None and self.n_taps > system.n_subcarriers_dl:
            problems.append(("n_taps", f"{self.n_taps} delay taps exceed n_subcarriers_dl="
                                       f"{system.n_subcarriers_dl}"))
        elif self.codeword_length(system) < 1:
            problems.append(("cr", f"cr={self.cr} leaves no codeword entry for "
                                   f"2 x {self.taps(system.n_subcarriers_dl)} x {system.n_bs} reals"))
        return problems

    def taps(self, n_sc: int) -> int:
        """``Nc`` on a band of ``n_sc`` subcarriers."""
        return n_sc if self.n_taps is None else self.n_taps

    def codeword_length(self, system: SystemCfg) -> int:
        """``M = round(cr 2 Nc n_bs)``."""
        return int(round(self.cr * 2 * self.taps(system.n_subcarriers_dl) * system.n_bs))

    def feedback_bits(self, system: SystemCfg) -> float:
        return float(system.n_ue * self.codeword_length(system) * self.bits)

    def quantizer_mode(self) -> QuantizerMode:
        """The quantiser's learned parameters (fixed range unless the method learns)."""
        return "qat"

    # -- to be supplied by a method ------------------------------------------------
    def networks(self, n_in: int, m: int, n_ports: int, seed: int) -> tuple[keras.Layer, keras.Layer]:
        """The encoder ``x [B, n_in] -> v [B, m]`` and decoder ``v_hat [B, m] -> x_hat [B, n_in]``
        for ``x`` the flat real truncated CSI (:func:`~simlink.feedback.transform.to_real`
        layout, ``n_in = 2 n_taps n_ports``), initialised from ``seed``."""
        raise NotImplementedError

    def prepare(self, train: Dataset, scale: float, rng: np.random.Generator) -> None:
        """Set what the method computes from the scaled training CSI (after the
        networks exist and before the quantiser is calibrated); default nothing."""

    def training_decode(self, v: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | float]:
        """The decoder in training mode: ``(x_hat, regulariser)``, the regulariser
        added to the MSE (default none)."""
        return self.decoder_(v, training=True), 0.0

    # -- building ------------------------------------------------------------------
    def _build(self, system: SystemCfg, seed: int) -> None:
        n_bs = system.n_bs
        n_in = 2 * self.taps(system.n_subcarriers_dl) * n_bs
        m = self.codeword_length(system)
        self.encoder_, self.decoder_ = self.networks(n_in, m, n_bs, seed)
        self.quantizer_ = Quantizer(self.bits, self.quantizer_mode(), self.per_entry_quantizer)
        # build every variable now, so that get_state / set_state see them all
        self.decoder_(self.quantizer_(self.encoder_(tf.zeros((1, n_in)))))
        n_taps, n_sc = self.taps(system.n_subcarriers_dl), system.n_subcarriers_dl

        def report_codes(H: tf.Tensor) -> tf.Tensor:
            return self.quantizer_.codes(self.encoder_(csi_vectors(H, n_taps) / self.scale_))

        def reconstruct(codes: tf.Tensor) -> tf.Tensor:
            x_hat = self.decoder_(self.quantizer_.dequantize(codes)) * self.scale_
            return csi_from_vectors(x_hat, n_taps, n_bs, system.n_ue, n_sc)

        # the two hot paths of a report, compiled once per batch shape
        self.report_codes_ = tf.function(report_codes, jit_compile=True, reduce_retracing=True)
        self.reconstruct_ = tf.function(reconstruct, jit_compile=True, reduce_retracing=True)

    def _variables(self) -> list:
        """Every weight of encoder, decoder and quantiser, in a fixed order."""
        seen, out = set(), []
        for layer in (self.encoder_, self.decoder_, self.quantizer_):
            for v in layer.weights:
                if id(v) not in seen:           # a decoder may share the encoder's matrix
                    seen.add(id(v))
                    out.append(v)
        return out

    # -- learning ------------------------------------------------------------------
    def _scoped(self, train: Dataset) -> Dataset:
        return train if train.target is None else train.for_env(train.target)

    def _ue_train_csi(self, H: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The UE's CSI in training: the channel, noisy at ``input_snr_db`` when set."""
        return H if self.input_snr_db is None else noisy_csi(H, self.input_snr_db, rng)

    def _calibration_rows(self, data: Dataset, rng: np.random.Generator) -> np.ndarray:
        idx = np.sort(rng.choice(len(data), min(len(data), _CALIBRATION_ROWS), replace=False))
        return data.rows(idx)["H_dl"]

    def fit(self, train: Dataset, *, rng: np.random.Generator,
            parts: Mapping[str, dict[str, np.ndarray]] | None = None) -> "CompressedFeedback":
        data = self._scoped(train)
        if len(data) == 0:
            raise ValueError(f"{self.kind} needs training data (sweep.n_train > 0)")
        if self.ue_csi == "lmmse":
            self.ue_lmmse_ = LMMSE(domain="frequency").fit(train, rng=rng)
        self._build(train.system, int(rng.integers(2**31)))
        H = self._calibration_rows(data, rng)
        x = csi_vectors(H, self.n_taps).numpy()
        self.scale_ = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        self.prepare(data, self.scale_, rng)
        if self.learns_networks:
            self.train_history_ = self.train(data, rng, getattr(parts, "fit_checkpoint", None))
        else:
            self._calibrate(H, rng)
        return self

    def _calibrate(self, H: np.ndarray, rng: np.random.Generator) -> None:
        """Quantiser range from the float codewords of the UE's training CSI ``H``."""
        self.quantizer_.calibrate(self._codewords(self._ue_train_csi(H, rng)))

    def _codewords(self, H: np.ndarray) -> np.ndarray:
        """Float codewords [b n_ue, M] of CSI ``H`` [b, n_bs, n_ue, n_sc] (no quantisation)."""
        return self.encoder_(csi_vectors(H, self.n_taps) / self.scale_).numpy()

    def train(self, data: Dataset, rng: np.random.Generator,
              checkpoint: Callable[[str], Path] | None = None) -> Any:
        """Train encoder and decoder (learned methods only); ``checkpoint(stage)``,
        when given, is the file each training stage checkpoints itself to."""
        raise NotImplementedError

    # -- state ---------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        state = {f"net/{i:03d}": np.asarray(v.numpy()) for i, v in enumerate(self._variables())}
        state["scale"] = np.float32(self.scale_)
        if self.ue_csi == "lmmse":
            state.update({f"ue_lmmse/{k}": v for k, v in self.ue_lmmse_.get_state().items()})
        return state

    def set_state(self, state: dict[str, np.ndarray], system: SystemCfg) -> "CompressedFeedback":
        self._build(system, seed=0)
        for i, v in enumerate(self._variables()):
            v.assign(state[f"net/{i:03d}"])
        self.scale_ = float(state["scale"])
        if self.ue_csi == "lmmse":
            self.ue_lmmse_ = LMMSE(domain="frequency").set_state(
                {k.split("/", 1)[1]: v for k, v in state.items() if k.startswith("ue_lmmse/")}, system)
        return self

    def traced_functions(self, system: SystemCfg) -> list:
        return [self.report_codes_, self.reconstruct_]

    def n_params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self._variables()))

    # -- UE ------------------------------------------------------------------------
    def ue_channel(self, obs: Observation) -> np.ndarray:
        """The CSI the UE compresses, [b, n_bs, n_ue, n_sc_dl] complex64."""
        if self.ue_csi == "perfect":
            H = np.asarray(obs.H_dl, np.complex64)
            if self.input_snr_db is None:
                return H
            # the noise is a function of the batch, so that estimate stays pure and repeatable
            return noisy_csi(H, self.input_snr_db, np.random.default_rng(zlib.crc32(H.tobytes())))
        if self.ue_csi == "ls":
            return ls_estimate(obs.y_pilots, obs.system, obs.noise_var, "linear")
        return self.ue_lmmse_.estimate(obs).H

    def encode(self, obs: Observation) -> np.ndarray:
        """UE side: the report bits [b, n_ue M bits] uint8."""
        codes = self.report_codes_(tf.constant(self.ue_channel(obs))).numpy()
        return num2bit(codes, self.bits).reshape(obs.batch_size, -1)

    # -- BS ------------------------------------------------------------------------
    def decode(self, bits: np.ndarray, system: SystemCfg) -> np.ndarray:
        """BS side: report bits [b, n_ue M bits] -> H_hat [b, n_bs, n_ue, n_sc_dl] complex64."""
        m = self.codeword_length(system)
        bits = np.asarray(bits)
        expected = int(self.feedback_bits(system))
        if bits.ndim != 2 or bits.shape[1] != expected:
            raise ValueError(f"expected report bits [b, {expected}], got {bits.shape}")
        return self.reconstruct_(tf.constant(bit2num(bits.reshape(-1, m, self.bits)))).numpy()


class LearnedFeedback(CompressedFeedback):
    """Base of the trained compressed-feedback methods (see :class:`CompressedFeedback`).

    Parameters
    ----------
    quantizer : "qat", "lsq" or "lszq"
        Quantiser learning: fixed range, learned step, learned step and offset
        (:mod:`simlink.feedback.quantizers`).
    quantizer_training : "joint" or "post"
        Train network and quantiser together end to end, or the network
        without quantiser first and then the quantiser alone on the frozen network.
    train_steps : int
        Optimiser steps of the network training (the budget; early stopping may end it sooner).
    post_steps : int
        Optimiser steps of the quantiser alone (``quantizer_training: post``, ``lsq`` / ``lszq``).
    batch_size : int
        Training samples per step (per UE antenna row).
    learning_rate : float
        Adam's learning rate, fixed (as in the LORA paper).
    val_fraction : float
        Share of the training split held out for early stopping.
    eval_every : int
        Steps between validation losses.
    patience : int or None
        Stop after this many validations without improvement (None: run the budget).
    """
    learns_networks = True

    quantizer: QuantizerMode = "lszq"
    quantizer_training: Literal["joint", "post"] = "joint"
    train_steps: PosInt = 20000
    post_steps: PosInt = 1000
    batch_size: PosInt = 200
    learning_rate: PosFloat = 1e-3
    val_fraction: Fraction = 0.1
    eval_every: PosInt = 500
    patience: PosInt | None = 10

    def quantizer_mode(self) -> QuantizerMode:
        return self.quantizer

    def _loss(self, quantized: bool):
        """``loss(batch, seed)``: mean squared error per entry on the scaled truncated CSI."""
        snr = self.input_snr_db

        def loss(batch: dict, seed: tf.Tensor) -> tf.Tensor:
            H = batch["H_dl"]
            x = csi_vectors(H, self.n_taps) / self.scale_
            x_in = x
            if snr is not None:
                std = tf.cast(tf.sqrt(10.0 ** (-snr / 10.0) / 2), tf.float32)
                noise = tf.complex(tf.random.stateless_normal(tf.shape(H), seed) * std,
                                   tf.random.stateless_normal(tf.shape(H), seed + 1) * std)
                x_in = csi_vectors(H + noise, self.n_taps) / self.scale_
            v = self.encoder_(x_in, training=True)
            if quantized:
                v = self.quantizer_(v)
            x_hat, extra = self.training_decode(v)
            return tf.reduce_mean(tf.square(x_hat - x)) + extra
        return loss

    def _run(self, trainer: Trainer, data: Dataset, val: Dataset, rng: np.random.Generator,
             steps: int, desc: str, checkpoint: Path | None):
        seed = int(rng.integers(2**31))
        _, extra = read_checkpoint(checkpoint)
        if "rng" in extra:    # the passes trained so far have drawn their batches: draw on
            rng.bit_generator.state = json.loads(str(extra["rng"]))
        # batch normalisation statistics change in the step without being trained
        others = [v for v in self._variables() if all(v is not w for w in trainer.variables)]
        return trainer.fit(lambda: data.batches(self.batch_size, rng, "H_dl"), steps=steps,
                           validation=lambda: trainer.evaluate(val.chunks("H_dl", size=self.batch_size)),
                           eval_every=min(self.eval_every, steps), patience=self.patience,
                           desc=desc, seed=seed, checkpoint=checkpoint,
                           checkpoint_every=min(self.eval_every, steps), checkpoint_state=others,
                           checkpoint_final=True, checkpoint_extra=lambda: {
                               "rng": np.array(json.dumps(rng.bit_generator.state))})

    def train(self, data: Dataset, rng: np.random.Generator,
              checkpoint: Callable[[str], Path] | None = None) -> Any:
        fit_data, val = data.validation_split(self.val_fraction, int(rng.integers(2**31))) \
            if len(data) >= 2 / self.val_fraction else (data, data)
        joint = self.quantizer_training == "joint"
        H = self._calibration_rows(fit_data, rng)
        if joint:       # a first range from the untrained encoder; lsq / lszq move it
            self._calibrate(H, rng)
        q = list(self.quantizer_.trainable_weights)
        net = [v for v in self._variables() if v.trainable and all(v is not w for w in q)]
        trainer = Trainer(self._loss(joint), net + q if joint else net,
                          keras.optimizers.Adam(self.learning_rate))
        stage = (lambda name: None) if checkpoint is None else checkpoint
        history = [self._run(trainer, fit_data, val, rng, self.train_steps,
                             f"{self.kind} training", stage("network"))]
        if not joint:   # the range of the trained encoder's codewords, then learned if it may be
            self._calibrate(H, rng)
        if not joint and q:
            trainer = Trainer(self._loss(True), q, keras.optimizers.Adam(self.learning_rate))
            history.append(self._run(trainer, fit_data, val, rng, self.post_steps,
                                     f"{self.kind} quantiser", stage("quantiser")))
        return history
