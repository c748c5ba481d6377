"""Persistent settings (QSettings). ``$MOTET_CONFIG_DIR`` points them at an INI file instead,
which is how tests and portable installs keep them apart from the user's own."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings


def app_settings() -> QSettings:
    folder = os.environ.get("MOTET_CONFIG_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        return QSettings(os.path.join(folder, "motet.ini"), QSettings.Format.IniFormat)
    return QSettings("Motet", "Motet")


def get_float(settings: QSettings, key: str, default: float) -> float:
    try:
        return float(settings.value(key, default))
    except (TypeError, ValueError):
        return default


def get_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return default if value is None else str(value)


class Keys:
    """Every settings key the app stores, in one place: a misspelt key is an AttributeError, not
    a setting silently forgotten. (The Continue panel's keys are ``continue/<option>``.)"""

    AUDIO_INPUT_DEVICE = "audio/input_device"
    COMPOSE_PROMPT = "compose/prompt"
    COMPOSE_PROMPT_HISTORY = "compose/prompt_history"
    COMPOSE_SEED = "compose/seed"
    COMPOSE_SPLITTER = "compose/splitter"
    COMPOSE_TEMPERATURE = "compose/temperature"
    COMPOSE_TOP_P = "compose/top_p"
    COMPOSE_VARIATIONS = "compose/variations"
    COMPUTE_DEVICE = "compute/device"
    COMPUTE_DTYPE = "compute/dtype"
    GENERATE_COMPUTE = "generate/compute"
    GENERATE_GUIDANCE = "generate/guidance"
    GENERATE_MODE = "generate/mode"  # "audio" (MusicGen) or "midi" (Compose)
    GENERATE_MODEL = "generate/model"
    GENERATE_MODEL_FOLDERS = "generate/model_folders"
    GENERATE_PROMPT = "generate/prompt"
    GENERATE_PROMPT_HISTORY = "generate/prompt_history"
    GENERATE_SECONDS = "generate/seconds"
    GENERATE_SEED = "generate/seed"
    GENERATE_SPLITTER = "generate/splitter"
    GENERATE_TEMPERATURE = "generate/temperature"
    GENERATE_TOP_K = "generate/top_k"
    GENERATE_TOP_P = "generate/top_p"
    GENERATE_VARIATIONS = "generate/variations"
    PATHS_EXPORT_DIR = "paths/export_dir"
    PATHS_MIDI_DIR = "paths/midi_dir"
    PATHS_OPEN_DIR = "paths/open_dir"
    RECORD_LIVE_TRANSCRIPTION = "record/live_transcription"
    ROLL_SNAP = "roll/snap"
    SPECTROGRAM_DB_CEILING = "spectrogram/db_ceiling"
    SPECTROGRAM_DB_FLOOR = "spectrogram/db_floor"
    SPECTROGRAM_SCALE = "spectrogram/scale"
    SPECTROGRAM_VISIBLE_SECONDS = "spectrogram/visible_seconds"
    TRANSCRIBE_BATCH_CLUSTER = "transcribe/batch_cluster"  # "" is this computer
    TRANSCRIBE_BATCH_FORMAT = "transcribe/batch_format"
    TRANSCRIBE_BEAM_SIZE = "transcribe/beam_size"
    TRANSCRIBE_COMPUTE_TYPE = "transcribe/compute_type"
    TRANSCRIBE_LANGUAGE = "transcribe/language"
    TRANSCRIBE_MODEL = "transcribe/model"
    TRANSCRIBE_MODEL_FOLDERS = "transcribe/model_folders"
    TRANSCRIBE_TASK = "transcribe/task"
    TRANSCRIBE_WORD_TIMESTAMPS = "transcribe/word_timestamps"
    WINDOW_GEOMETRY = "window/geometry"
    WINDOW_JOBS_PINNED = "window/jobs_pinned"  # View › Jobs: the Jobs dock kept open
    WINDOW_PAGE = "window/page"
    WINDOW_STATE = "window/state"
