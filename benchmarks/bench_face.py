"""The face flow as `make sim` runs it (people 0-4, forget 1, learn 5, seed 0, chip
check of 20 images on Verilator): wall time of each part, the golden chip's
evaluation rate (distinct images measured per second, every stage and baseline),
and the cost model's folds (energy figures, not wall time: they do not vary).

Needs the Olivetti faces ($RMLORA_DATA); without them it reports nothing. The
Verilator model is built before timing (the chip check's first run would build it).
"""

from rmlora.sw.data.olivetti import OLIVETTI_FILE, data_dir
from rmlora.sw.learn.face import run_face


def run() -> dict:
    if not (data_dir() / OLIVETTI_FILE).is_file():
        print(f"  (skipped: {data_dir() / OLIVETTI_FILE} not found)")
        return {}
    from rmlora.sw.runtime import Chip
    Chip(backend="verilator").close()  # build (or reuse) the simulator outside the timing
    summary = run_face()
    seconds = summary["seconds"]
    measured = sum(summary["inferences"].values())
    return {
        "face_flow_total_s": seconds["total"],
        "face_float_training_s": seconds["float_flow"],
        "face_chip_eval_s": seconds["chip_eval"],
        "face_chip_eval_images_per_s": measured / seconds["chip_eval"],
        "face_chip_check_s_per_image": seconds["chip_check"] / summary["chip_check"]["images"],
        "face_training_fold": summary["cost"]["training_fold"],
        "face_deployment_fold": summary["cost"]["deployment_fold"],
        "face_deployment_time_fold": summary["cost"]["deployment_time_fold"],
        "face_inference_energy_fold": summary["cost"]["inference_energy_fold"],
        "face_hybrid_inference_nj": summary["cost"]["inference"]["lora"]["hybrid"]["energy_j"]
        * 1e9,
        "face_targets_met": sum(t["met"] for t in summary["targets"]),
        "face_targets": len(summary["targets"]),
    }
