"""One exception hierarchy for the package.

Every error a user can trigger derives from ``HearByolsError`` so callers can catch the
package's failures in one place; each also derives from the matching builtin
(``ValueError``, ``TypeError``...) so generic handlers keep working.
"""


class HearByolsError(Exception):
    """Base class of every error raised on purpose by hear_byols."""


class InvalidAudioError(HearByolsError, ValueError):
    """The audio passed to an embedding function has the wrong shape, values or length."""


class AudioTypeError(InvalidAudioError, TypeError):
    """The audio is not a tensor/array, or has a dtype we refuse to cast silently."""


class InvalidOptionError(HearByolsError, ValueError):
    """An option (variant name, normalisation, frame/hop size...) is not valid."""


class InvalidModelError(HearByolsError, TypeError):
    """The model passed to an embedding function was not built by hear_byols.load_model."""


class CheckpointError(HearByolsError):
    """A checkpoint file cannot be used: missing, corrupt, truncated or not a state dict."""


class WrongVariantError(CheckpointError):
    """The checkpoint holds the weights of another variant than the one being loaded."""


class ChecksumError(CheckpointError):
    """A weight file's size or hash differs from the registry's published value."""


class WeightsUnavailableError(HearByolsError, FileNotFoundError):
    """No weights can be found for a variant (none published, or offline and not cached)."""


class DownloadError(HearByolsError, OSError):
    """Downloading an official weight file failed (HTTP error, network error, partial file)."""


class StorageError(HearByolsError, OSError):
    """A file cannot be written locally: disk full, read-only directory, unusable lock file."""


class DeviceError(HearByolsError, RuntimeError):
    """The accelerator failed in a way that fails every later computation (a sticky CUDA error)."""


class WorkerError(HearByolsError, RuntimeError):
    """A worker process died (killed by a signal, e.g. by the out-of-memory killer), so the run stopped."""


class TrainingDataError(HearByolsError, ValueError):
    """Pretraining data that cannot give a usable run: nothing readable, or log-mels whose
    statistics are not finite or constant (all silence)."""


class TrainingDivergedError(HearByolsError, ArithmeticError):
    """Pretraining met a NaN or infinite loss or gradient; it stopped before applying it."""


class AudioFileError(HearByolsError, ValueError):
    """An audio file cannot be embedded: empty, not audio, corrupt, no samples, NaN/Inf."""


class UsageError(HearByolsError, ValueError):
    """A command-line argument is wrong (a path that matches nothing, a bad option): exit status 2."""


class ModelNumericsError(HearByolsError, FloatingPointError):
    """The model, not the audio, made the embeddings NaN or Inf: non-finite weights, or the encoder
    overflowed (at a reduced precision, or float32 with extreme weights)."""


class CorpusError(HearByolsError, ValueError):
    """A labelled corpus cannot be used as given: a table without the named columns, a path that does
    not exist, a file that does not follow its dataset's naming, duplicate paths, empty labels."""


class SplitError(CorpusError):
    """The clips cannot be split speaker-independently as asked: a speaker in two splits, a class with
    no training clip, fewer speakers than folds, one speaker only, unknown split values."""


class StatisticsError(HearByolsError, ValueError):
    """A corpus gives no usable log-mel statistics (nothing readable, only silence, a constant or
    non-finite result), or statistics cannot be combined (shards of different runs or frontends)."""


class ProbeDataError(HearByolsError, ValueError):
    """A fold's features cannot be scored: NaN/Inf or overflowing values, lengths or widths that
    disagree, labels or speakers missing or of mixed types, or no classifier family left with a score.
    (A fold that is not speaker-independent, or lacks training classes, is a ``SplitError``.)"""
