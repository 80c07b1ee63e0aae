"""The pretraining loop behind ``mammobench pretrain``: AdamW, warm-up then cosine, checkpoints, DDP.

One run trains a recipe into an output folder (``$MAMMOBENCH_HOME/models/<name>`` by default;
layout in :mod:`mammobench_mammoclip.storage`). After every epoch the weights and the complete
training state (optimizer, scheduler, gradient scaler, step, RNG states, loss history) are
saved. ``resume=True`` continues from the last finished epoch. Because data order and
augmentation are seeded by (seed, epoch, item), a resumed run reproduces the uninterrupted one on
the same hardware.

Launched under ``torchrun`` (``WORLD_SIZE`` > 1) the loop joins the process group, shards the data
with ``DistributedSampler``, wraps the model in DistributedDataParallel and lets only rank 0
write files. Mixed precision (float16 autocast with a gradient scaler) is used on CUDA when the
recipe asks for it.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Sampler

from mammobench.api import ConfigError, DataError, paths
from mammobench_mammoclip.encoder import contract_for
from mammobench_mammoclip.loss import MammoClipLoss
from mammobench_mammoclip.model import MammoClipModel
from mammobench_mammoclip.pairs import PairCollator, PretrainPairs
from mammobench_mammoclip.progress import LogProgress, Progress
from mammobench_mammoclip.recipe import Recipe
from mammobench_mammoclip.sources import PretrainingData, load_pretraining_data
from mammobench_mammoclip.storage import (
    CARD_JSON,
    CHECKPOINT_DIR,
    build_model,
    load_checkpoint_state,
    rebuild_model,
    remove_checkpoint,
    save_checkpoint,
    save_final_weights,
    write_recipe_and_text,
)

logger = logging.getLogger(__name__)


@dataclass
class PretrainResult:
    """Summary of a finished pretraining run."""

    folder: Path
    steps: int
    epochs: int
    train_loss: float | None
    val_loss: float | None
    weights_sha256: str
    card: dict[str, Any] = field(default_factory=dict)


def pretrain(
    recipe: Recipe,
    *,
    out_dir: Path | None = None,
    data_root: Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> PretrainResult:
    """Train ``recipe`` and write the finished model folder.

    Args:
        recipe: The pretraining recipe.
        out_dir: Output folder; ``$MAMMOBENCH_HOME/models/<recipe name>`` by default.
        data_root: Data root of the recipe's only data source (overrides its default).
        resume: Continue from the checkpoint in ``out_dir``. Without a checkpoint the run starts
            from scratch; for a finished folder nothing is trained again.
        progress: Where to report steps and losses; log lines by default.

    Returns:
        Steps, losses and the weights checksum of the finished folder.

    Raises:
        ConfigError: The output folder contains another run and ``resume`` is False, the recipe
            differs from the checkpoint's, or the data are too few for one batch.
    """
    from mammobench_mammoclip.card import read_card

    folder = Path(out_dir) if out_dir is not None else paths.models_dir() / recipe.name
    progress = progress or LogProgress()
    _check_output_folder(folder, recipe, resume)
    if resume and (folder / CARD_JSON).is_file():
        card = read_card(folder)
        logger.info("'%s' already contains a finished model; nothing to resume", folder)
        return _result_from_card(folder, card)

    runtime = _Runtime.start(recipe.train.device)
    try:
        return _Trainer(recipe, folder, data_root, resume, progress, runtime).run()
    finally:
        runtime.stop()


class EpochSampler(Sampler[int]):
    """A random permutation per epoch, seeded by (seed, epoch), for single-process training."""

    def __init__(self, length: int, seed: int) -> None:
        self.length = length
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.length, generator=generator).tolist())

    def __len__(self) -> int:
        return self.length


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate factor: linear warm-up from 0 to 1, then cosine decay to 0 at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / decay_steps, 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class _Runtime:
    """Device and process-group facts of this process."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    distributed: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def start(cls, device_name: str) -> _Runtime:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size > 1:
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            if torch.cuda.is_available():
                torch.cuda.set_device(local_rank)
                device = torch.device("cuda", local_rank)
                backend = "nccl"
            else:
                device = torch.device("cpu")
                backend = "gloo"
            if not dist.is_initialized():
                dist.init_process_group(backend=backend)
            return cls(device=device, rank=dist.get_rank(), world_size=world_size, distributed=True)
        return cls(device=_resolve_device(device_name))

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_ok(self, ok: bool) -> bool:
        """Return True when ``ok`` is true on every rank."""
        if not self.distributed:
            return ok
        flag = torch.tensor([1 if ok else 0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def mean(self, value: float) -> float:
        """Average ``value`` over ranks."""
        if not self.distributed:
            return value
        tensor = torch.tensor([value], device=self.device, dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def stop(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


class _Trainer:
    """One pretraining run; :meth:`run` does the work."""

    def __init__(
        self,
        recipe: Recipe,
        folder: Path,
        data_root: Path | None,
        resume: bool,
        progress: Progress,
        runtime: _Runtime,
    ) -> None:
        self.recipe = recipe
        self.folder = folder
        self.data_root = data_root
        self.resume = resume
        self.progress = progress
        self.runtime = runtime
        self.use_amp = recipe.train.amp and runtime.device.type == "cuda"
        self.history: list[dict[str, Any]] = []

    def run(self) -> PretrainResult:
        recipe, runtime = self.recipe, self.runtime
        torch.manual_seed(recipe.train.seed)
        data = load_pretraining_data(recipe, self.data_root)
        model, tokenizer = self._model_and_tokenizer(data)
        model.to(runtime.device)

        train_set = PretrainPairs(data.train_sources, data.train_records, recipe.data, recipe.train.seed, train=True)
        val_set = PretrainPairs(data.val_sources, data.val_records, recipe.data, recipe.train.seed, train=False)
        collator = PairCollator(tokenizer, recipe.model.text.max_length)
        train_loader, sampler = self._train_loader(train_set, collator)
        val_loader = self._val_loader(val_set, collator)
        steps_per_epoch = len(train_loader)
        total_steps = steps_per_epoch * recipe.train.epochs

        optimizer = _adamw(model, recipe.train.learning_rate, recipe.train.weight_decay)
        warmup_steps = round(recipe.train.warmup_epochs * steps_per_epoch)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, warmup_steps, total_steps)
        )
        scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        loss_fn = MammoClipLoss(
            recipe.loss.image_image_weight, recipe.loss.text_text_weight, recipe.loss.label_smoothing
        )

        start_epoch, step = 0, 0
        state = load_checkpoint_state(self.folder, model) if self.resume else None
        if state is not None:
            start_epoch, step = self._restore(state, optimizer, scheduler, scaler)
            logger.info("resuming '%s' at epoch %d, step %d", self.folder, start_epoch, step)

        trained: nn.Module = model
        if runtime.distributed:
            device_ids = [runtime.device.index] if runtime.device.type == "cuda" else None
            trained = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

        contract = contract_for(recipe.model.in_chans, recipe.model.image_mean, recipe.model.image_std)
        self.progress.start(total_steps, step, f"pretraining {recipe.name}")
        started = time.monotonic()
        try:
            for epoch in range(start_epoch, recipe.train.epochs):
                train_set.set_epoch(epoch)
                sampler.set_epoch(epoch)
                trained.train()
                epoch_losses: list[float] = []
                for batch in train_loader:
                    # Ranks must agree on skipping, and DDP's all-gather needs equal batch sizes.
                    usable = batch is not None and (
                        not runtime.distributed or len(batch["keys"]) == recipe.train.batch_size
                    )
                    if not runtime.all_ok(usable):
                        logger.warning("epoch %d: skipped a batch with images that failed to load", epoch + 1)
                        continue
                    loss = self._step(trained, batch, contract, loss_fn, optimizer, scaler)
                    scheduler.step()
                    step += 1
                    epoch_losses.append(loss)
                    self.progress.advance(step, loss, scheduler.get_last_lr()[0])
                    every = recipe.train.validate_every_steps
                    if every and step % every == 0:
                        self._report_validation(model, val_loader, contract, loss_fn, epoch, step)

                train_loss = runtime.mean(sum(epoch_losses) / len(epoch_losses)) if epoch_losses else None
                val_loss = self.validate(model, val_loader, contract, loss_fn)
                self.history.append({"epoch": epoch + 1, "step": step, "train_loss": train_loss, "val_loss": val_loss})
                self.progress.message(
                    f"epoch {epoch + 1}/{recipe.train.epochs}: train loss {_format(train_loss)}, "
                    f"validation loss {_format(val_loss)}"
                )
                if runtime.is_main:
                    save_checkpoint(self.folder, model, self._state(epoch + 1, step, optimizer, scheduler, scaler))
                runtime.barrier()
        finally:
            self.progress.stop()

        return self._finish(model, tokenizer, data, step, time.monotonic() - started)

    def validate(
        self, model: MammoClipModel, loader: DataLoader | None, contract: Any, loss_fn: MammoClipLoss
    ) -> float | None:
        """Return the mean total loss over the validation pairs, or None without validation data.

        Every process evaluates the whole validation set with in-batch negatives only, so all
        ranks get the same value without any collective call that could leave one rank waiting.
        """
        if loader is None:
            return None
        local_loss = MammoClipLoss(loss_fn.image_image_weight, loss_fn.text_text_weight, gather=False).eval()
        model.eval()
        totals: list[float] = []
        with torch.no_grad(), self._autocast():
            for batch in loader:
                if batch is None:
                    continue
                outputs = model(*self._inputs(batch, contract))
                totals.append(float(local_loss(**outputs)["total"]))
        model.train()
        return sum(totals) / len(totals) if totals else None

    def _step(
        self,
        model: nn.Module,
        batch: dict[str, Any],
        contract: Any,
        loss_fn: MammoClipLoss,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
    ) -> float:
        optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            outputs = model(*self._inputs(batch, contract))
            losses = loss_fn(**outputs)
        total = losses["total"]
        if not torch.isfinite(total):
            raise DataError(
                f"pretraining loss became {float(total)}; lower train.learning_rate or enable "
                "train.max_grad_norm in the recipe"
            )
        scaler.scale(total).backward()
        if self.recipe.train.max_grad_norm:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.recipe.train.max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        return float(total.detach())

    def _inputs(self, batch: dict[str, Any], contract: Any) -> tuple[torch.Tensor, ...]:
        device = self.runtime.device
        return (
            contract.prepare(batch["image"].to(device, non_blocking=True)),
            contract.prepare(batch["view"].to(device, non_blocking=True)),
            batch["input_ids"].to(device, non_blocking=True),
            batch["attention_mask"].to(device, non_blocking=True),
        )

    def _autocast(self) -> Any:
        return torch.autocast(device_type="cuda", dtype=torch.float16, enabled=self.use_amp)

    def _model_and_tokenizer(self, data: PretrainingData) -> tuple[MammoClipModel, Any]:
        has_checkpoint = (self.folder / CHECKPOINT_DIR).is_dir()
        if self.resume and has_checkpoint:
            return rebuild_model(self.recipe, self.folder)

        # Rank 0 learns the vocabulary (for a text tower trained from scratch) and writes it.
        # The other ranks read the same files, so every rank has the same tokenizer.
        if self.runtime.is_main:
            corpus = PretrainPairs(
                data.train_sources, data.train_records, self.recipe.data, self.recipe.train.seed
            ).corpus()
            model, tokenizer = build_model(self.recipe, corpus)
            write_recipe_and_text(self.folder, self.recipe, model, tokenizer)
        self.runtime.barrier()
        if not self.runtime.is_main:
            torch.manual_seed(self.recipe.train.seed)
            model, tokenizer = rebuild_model(self.recipe, self.folder)
        return model, tokenizer

    def _train_loader(self, dataset: PretrainPairs, collator: PairCollator) -> tuple[DataLoader, Any]:
        train = self.recipe.train
        if self.runtime.distributed:
            from torch.utils.data.distributed import DistributedSampler

            sampler: Any = DistributedSampler(dataset, shuffle=True, seed=train.seed, drop_last=True)
        else:
            sampler = EpochSampler(len(dataset), train.seed)
        loader = DataLoader(
            dataset,
            batch_size=train.batch_size,
            sampler=sampler,
            num_workers=train.num_workers,
            collate_fn=collator,
            drop_last=True,
            pin_memory=self.runtime.device.type == "cuda",
        )
        if len(loader) == 0:
            raise ConfigError(
                f"recipe '{self.recipe.name}': {len(dataset)} training breasts over "
                f"{self.runtime.world_size} process(es) do not fill one batch of "
                f"train.batch_size={train.batch_size}; lower the batch size or add data"
            )
        return loader, sampler

    def _val_loader(self, dataset: PretrainPairs, collator: PairCollator) -> DataLoader | None:
        if len(dataset) < 2:
            logger.info("fewer than two validation breasts; no validation loss is computed")
            return None
        return DataLoader(
            dataset,
            batch_size=self.recipe.train.batch_size,
            shuffle=False,
            num_workers=self.recipe.train.num_workers,
            collate_fn=collator,
        )

    def _report_validation(
        self, model: MammoClipModel, loader: DataLoader | None, contract: Any, loss_fn: MammoClipLoss, epoch: int, step: int
    ) -> None:
        val_loss = self.validate(model, loader, contract, loss_fn)
        self.progress.message(f"epoch {epoch + 1}, step {step}: validation loss {_format(val_loss)}")

    def _state(
        self,
        epoch: int,
        step: int,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        scaler: torch.amp.GradScaler,
    ) -> dict[str, Any]:
        state: dict[str, Any] = {
            "epoch": epoch,
            "step": step,
            "recipe_digest": self.recipe.digest(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "history": list(self.history),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def _restore(
        self, state: dict[str, Any], optimizer: torch.optim.Optimizer, scheduler: Any, scaler: torch.amp.GradScaler
    ) -> tuple[int, int]:
        if state.get("recipe_digest") != self.recipe.digest():
            raise ConfigError(
                f"the checkpoint in '{self.folder}' was made with a different recipe; resume with "
                f"the recipe saved there ('{self.folder / 'recipe.toml'}') or start a new --out folder"
            )
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.history = list(state.get("history", []))
        return int(state["epoch"]), int(state["step"])

    def _finish(
        self, model: MammoClipModel, tokenizer: Any, data: PretrainingData, steps: int, seconds: float
    ) -> PretrainResult:
        from mammobench_mammoclip.card import build_card, write_card

        last = self.history[-1] if self.history else {}
        card: dict[str, Any] = {}
        sha256 = ""
        if self.runtime.is_main:
            sha256 = save_final_weights(self.folder, model)
            quality = None
            if self.recipe.quality.enabled:
                from mammobench_mammoclip.quality import evaluate_quality

                quality = evaluate_quality(model, tokenizer, self.recipe, self.data_root, progress=self.progress)
            card = build_card(
                recipe=self.recipe,
                data=data,
                history=self.history,
                steps=steps,
                weights_sha256=sha256,
                device=str(self.runtime.device),
                world_size=self.runtime.world_size,
                seconds=seconds,
                quality=quality,
            )
            # The card marks the folder finished; until it is written, --resume can still recover.
            write_card(self.folder, card)
            remove_checkpoint(self.folder)
            logger.info("pretrained model written to '%s'", self.folder)
        self.runtime.barrier()
        return PretrainResult(
            folder=self.folder,
            steps=steps,
            epochs=int(last.get("epoch", 0)),
            train_loss=last.get("train_loss"),
            val_loss=last.get("val_loss"),
            weights_sha256=sha256,
            card=card,
        )


def _adamw(model: nn.Module, learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    # Biases, normalisation parameters and the logit scale are not decayed (as in CLIP).
    decayed, plain = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if parameter.ndim < 2 or name == "logit_scale":
            plain.append(parameter)
        else:
            decayed.append(parameter)
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=learning_rate)


def _check_output_folder(folder: Path, recipe: Recipe, resume: bool) -> None:
    if resume:
        return
    if (folder / CARD_JSON).is_file():
        raise ConfigError(
            f"'{folder}' already contains a pretrained model; choose another --out folder or delete it"
        )
    if (folder / CHECKPOINT_DIR).is_dir():
        raise ConfigError(
            f"'{folder}' contains an unfinished run of recipe '{recipe.name}'; continue it with --resume, "
            "or choose another --out folder"
        )


def _result_from_card(folder: Path, card: dict[str, Any]) -> PretrainResult:
    return PretrainResult(
        folder=folder,
        steps=int(card.get("steps", 0)),
        epochs=int(card.get("epochs", 0)),
        train_loss=card.get("final_train_loss"),
        val_loss=card.get("final_val_loss"),
        weights_sha256=str(card.get("weights_sha256", "")),
        card=card,
    )


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"recipe asks for device '{name}' but CUDA is not available; set train.device = 'auto'")
    return device


def _format(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
