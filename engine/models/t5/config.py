"""The T5 encoder's dimensions, read from a Hugging Face ``config.json`` (a T5 folder's own, or
the ``text_encoder`` part of a MusicGen config) and checked value by value before anything is
built: a crafted or damaged config must be a one-line CheckpointError, never a torch traceback
or gigabytes allocated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.models.common.errors import CheckpointError, shown

# Far above every published T5 (t5-11b: d_model 1024, d_kv 128, 128 heads, d_ff 65536, 24 layers;
# mT5: vocabulary 250112). MusicGen's text encoder is t5-base (768, 64, 12 heads, 3072, 12 layers).
DIMENSION_LIMITS = {
    "vocab_size": 1_048_576, "d_model": 16384, "d_kv": 1024, "d_ff": 262_144, "num_layers": 128,
    "num_heads": 256, "relative_attention_num_buckets": 4096, "relative_attention_max_distance": 1_000_000,
}
MAX_PARAMETERS = 6_000_000_000  # t5-11b's encoder has 4.8 G
# the activations a feed-forward may use; "gated-gelu" means gelu_new (the tanh approximation),
# as transformers reads it for T5 v1.1, while a plain "gelu" is the exact (erf) one
ACTIVATIONS = ("relu", "gelu", "gelu_new", "silu")


def _whole(value, low: int, high: int) -> int | None:
    """``value`` as an int when it is a whole number from ``low`` to ``high`` (JSON may hold 512.0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


@dataclass(frozen=True)
class T5Config:
    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    feed_forward_proj: str = "relu"
    layer_norm_epsilon: float = 1e-6

    @property
    def is_gated(self) -> bool:
        return self.feed_forward_proj.startswith("gated-")

    @property
    def activation(self) -> str:
        """One of ACTIVATIONS: what the feed-forward applies after ``wi`` (or ``wi_0``)."""
        if self.feed_forward_proj == "gated-gelu":
            return "gelu_new"
        return self.feed_forward_proj.removeprefix("gated-")

    @property
    def inner_dim(self) -> int:
        """The attention's width, num_heads x d_kv (not always d_model: t5-11b)."""
        return self.num_heads * self.d_kv

    def n_parameters(self) -> int:
        """How many parameters the encoder has, computed without building it."""
        d, ff = self.d_model, self.d_ff * (3 if self.is_gated else 2)
        per_layer = 4 * d * self.inner_dim + d * ff + 2 * d
        return self.vocab_size * d + self.num_layers * per_layer + d + self.relative_attention_num_buckets * self.num_heads

    def describe(self) -> str:
        """A config in a few words, for error messages."""
        return (f"d_model {self.d_model}, {self.num_layers} layers of {self.num_heads} heads x {self.d_kv}, "
                f"d_ff {self.d_ff} ({self.feed_forward_proj}), vocabulary {self.vocab_size}")

    @classmethod
    def from_hf(cls, data: Mapping, source: str) -> T5Config:
        """Our config from a Hugging Face T5 config dict; CheckpointError naming ``source`` and
        the field for any value of the wrong kind or absurd. A key the dict lacks takes
        transformers' default, as transformers itself reads the file."""
        if not isinstance(data, Mapping):
            raise CheckpointError(f"{source}: the T5 config should be a JSON object, found {type(data).__name__}")
        model_type = data.get("model_type", "t5")
        if model_type != "t5":
            raise CheckpointError(f"{source} describes a {shown(model_type)} model; expected model_type 't5' "
                                  f"(umT5 and others with a position bias in every layer are not supported)")
        defaults = cls()
        values: dict = {}
        problems = []
        for key, high in DIMENSION_LIMITS.items():
            raw = data.get(key, getattr(defaults, key))
            values[key] = _whole(raw, 1, high)
            if values[key] is None:
                problems.append(f"{key} is {shown(raw)}; it must be a whole number from 1 to {high}")
        proj = data.get("feed_forward_proj", defaults.feed_forward_proj)
        if not isinstance(proj, str) or proj.removeprefix("gated-") not in ACTIVATIONS:
            problems.append(f"feed_forward_proj is {shown(proj)}; Motet's T5 supports "
                            f"{', '.join(ACTIVATIONS)}, each optionally as gated-…")
        eps = data.get("layer_norm_epsilon", defaults.layer_norm_epsilon)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:  # NaN fails too
            problems.append(f"layer_norm_epsilon is {shown(eps)}; it must be a number above 0 and below 1")
        buckets, distance = values["relative_attention_num_buckets"], values["relative_attention_max_distance"]
        # bidirectional: half the buckets each way, a quarter exact, the rest logarithmic up to max_distance
        if buckets is not None and buckets < 4:
            problems.append(f"relative_attention_num_buckets is {buckets}; T5 needs at least 4")
        elif buckets is not None and distance is not None and distance <= buckets // 4:
            problems.append(f"relative_attention_max_distance {distance} must exceed a quarter of "
                            f"relative_attention_num_buckets ({buckets})")
        if problems:
            raise CheckpointError(f"{source} is not a usable T5 config: {'; '.join(problems)}")
        config = cls(**values, feed_forward_proj=proj, layer_norm_epsilon=float(eps))
        if config.n_parameters() > MAX_PARAMETERS:
            raise CheckpointError(f"{source}: the T5 encoder would have about {config.n_parameters() / 1e9:.1f} G "
                                  f"parameters, more than the {MAX_PARAMETERS / 1e9:.0f} G Motet loads")
        return config
