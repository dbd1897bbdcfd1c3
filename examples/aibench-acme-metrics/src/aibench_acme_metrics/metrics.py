"""``acme.mean_iou``: mean intersection over union of semantic segmentation label maps,
the headline metric of Cityscapes, ADE20K and Pascal VOC; with pixel accuracy as a
second output."""

from __future__ import annotations

from typing import Any

from aibench_plugins import InputSpec, MetricInfo

_PARAMS = {
    "type": "object",
    "properties": {
        "num_classes": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65536,
            "description": "Number of classes; class ids run from 0 to num_classes - 1.",
        },
        "ignore_index": {
            "type": ["integer", "null"],
            "default": 255,
            "description": "Reference value of unlabelled pixels, left out of every count; null: none.",
        },
    },
    "required": ["num_classes"],
    "additionalProperties": False,
}


class MeanIoU:
    """A stateful metric: the class is the factory (``MeanIoU(num_classes=19)`` is a fresh
    state).

    The state is one ``num_classes x num_classes`` matrix of pixel counts (rows: reference
    class, columns: predicted class). Batches add to it and shards scored apart merge by
    adding their matrices, so the result never depends on how images were split.
    """

    info = MetricInfo(
        id="acme.mean_iou",
        description="Mean over classes of intersection over union of the predicted and reference pixels "
                    "(classes absent from both are left out), and pixel accuracy.",
        direction="maximize",
        bounds=(0.0, 1.0),
        version="1",
        params_schema=_PARAMS,
        inputs={
            "predictions": InputSpec("mask", dtype="int64", shape="n,h,w",
                                     description="Predicted class id of each pixel."),
            "references": InputSpec("mask", dtype="int64", shape="n,h,w",
                                    description="True class id of each pixel; ignore_index marks unlabelled ones."),
        },
        outputs=("acme.mean_iou", "acme.pixel_accuracy"),
        citation="Everingham et al., The PASCAL Visual Object Classes (VOC) Challenge, IJCV 88, 2010.",
    )

    def __init__(self, *, num_classes: int, ignore_index: int | None = 255) -> None:
        import numpy as np

        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"acme.mean_iou: num_classes must be a positive integer, got {num_classes!r}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)

    def reset(self) -> None:
        self.confusion[:] = 0

    def update(self, *, predictions: Any, references: Any) -> None:
        import numpy as np

        predicted, reference = np.asarray(predictions), np.asarray(references)
        if predicted.shape != reference.shape:
            raise ValueError(f"acme.mean_iou: predictions have shape {predicted.shape} but references have shape "
                             f"{reference.shape}; give one label map per image, of the reference's size")
        labelled = reference != self.ignore_index if self.ignore_index is not None else np.ones(reference.shape, bool)
        k = self.num_classes
        for name, ids in (("predictions", predicted[labelled]), ("references", reference[labelled])):
            if ids.dtype.kind not in "iu":
                raise ValueError(f"acme.mean_iou: {name} must hold integer class ids, got dtype {ids.dtype}")
            if ids.size and (ids.min() < 0 or ids.max() >= k):
                bad = ids.min() if ids.min() < 0 else ids.max()
                raise ValueError(f"acme.mean_iou: {name} hold class id {bad}, outside 0..{k - 1} (num_classes={k}"
                                 f", ignore_index={self.ignore_index})")
        codes = reference[labelled].astype(np.int64) * k + predicted[labelled].astype(np.int64)
        self.confusion += np.bincount(codes, minlength=k * k).reshape(k, k)

    def merge(self, other: MeanIoU) -> None:
        if (other.num_classes, other.ignore_index) != (self.num_classes, self.ignore_index):
            raise ValueError("acme.mean_iou: cannot merge states with different num_classes or ignore_index")
        self.confusion += other.confusion

    def compute(self) -> dict[str, float]:
        import numpy as np

        hits = np.diag(self.confusion)
        union = self.confusion.sum(axis=0) + self.confusion.sum(axis=1) - hits
        present = union > 0
        if not present.any():
            raise ValueError("acme.mean_iou: compute() before any labelled pixel was given to update()")
        return {
            "acme.mean_iou": float(np.mean(hits[present] / union[present])),
            "acme.pixel_accuracy": float(hits.sum() / self.confusion.sum()),
        }
