"""Evaluation measures: AUROC, threshold for a target false-alarm rate, localisation hits."""
import numpy as np
from scipy import ndimage

CELL = 4


def auroc(scores, labels):
    """Mann-Whitney AUROC with ties counted half."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels).astype(bool)
    positives, negatives = scores[labels], scores[~labels]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([positives, negatives]), kind="mergesort")
    all_scores = np.concatenate([positives, negatives])[order]
    rank = np.empty(len(order), np.float64)
    # Average ranks over ties.
    unique, inverse, counts = np.unique(all_scores, return_inverse=True, return_counts=True)
    cumulative = np.cumsum(counts)
    average_rank = cumulative - (counts - 1) / 2.0
    rank[order] = average_rank[inverse]
    positive_rank_sum = rank[: len(positives)].sum()
    return float((positive_rank_sum - len(positives) * (len(positives) + 1) / 2)
                 / (len(positives) * len(negatives)))


def threshold_for_false_alarms(good_scores, rate):
    """Smallest threshold whose false-alarm rate on good frames is <= rate (score > threshold alarms)."""
    good = np.sort(np.asarray(good_scores, np.float64))
    allowed = int(np.floor(rate * len(good)))
    threshold = good[len(good) - 1 - allowed]
    return float(threshold), float(np.mean(good > threshold))


def regions(defect_map, region_threshold):
    """Boxes (pixels) of connected cells above the threshold; map is [64, 64] probabilities."""
    labelled, count = ndimage.label(defect_map > region_threshold)
    boxes = []
    for rows, cols in ndimage.find_objects(labelled):
        boxes.append({"x": cols.start * CELL, "y": rows.start * CELL,
                      "width": (cols.stop - cols.start) * CELL, "height": (rows.stop - rows.start) * CELL})
    return boxes


def overlaps(a, b):
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def hit_count(defect_map, true_boxes, region_threshold):
    """How many true boxes are overlapped by at least one predicted region."""
    predicted = regions(defect_map, region_threshold)
    return sum(1 for box in true_boxes if any(overlaps(box, p) for p in predicted))
