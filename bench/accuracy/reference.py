"""scikit-learn references for the accuracy check, on exactly the pipeline's train/test splits.

Run once, with Debian's python3-sklearn, after `node --import tsx bench/accuracy/export.ts DIR`:

    /usr/bin/python3 bench/accuracy/reference.py DIR

It prints the test accuracy of a logistic regression (standardised, imputed, one-hot encoded as
the pipeline does) per data set; the figures are recorded in test/fixtures/sklearn-reference.json.
"""
import csv
import json
import sys

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

CATEGORICAL = {"island", "sex", "clutch_completion"}
LABELS = {"penguins": "species", "wine": "target", "breast_cancer": "target"}
SKIP = {"source_row", "id", "study", "individual_id", "date_egg"}


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def main(root):
    out = {}
    for name, label in LABELS.items():
        train, test = read(f"{root}/{name}/train.csv"), read(f"{root}/{name}/test.csv")
        features = [c for c in train[0] if c not in SKIP and c != label]
        numeric = [c for c in features if c not in CATEGORICAL]
        categorical = [c for c in features if c in CATEGORICAL]

        def matrix(rows):
            return [[float(r[c]) if r[c] != "" else float("nan") for c in numeric] + [r[c] or None for c in categorical] for r in rows]

        transform = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), list(range(len(numeric)))),
                ("cat", make_pipeline(SimpleImputer(strategy="most_frequent", missing_values=None), OneHotEncoder(handle_unknown="ignore")), list(range(len(numeric), len(features)))),
            ]
        )
        model = make_pipeline(transform, LogisticRegression(max_iter=5000))
        model.fit(matrix(train), [r[label] for r in train])
        accuracy = model.score(matrix(test), [r[label] for r in test])
        out[name] = {"model": "LogisticRegression (sklearn 1.2.1)", "test_rows": len(test), "accuracy": round(accuracy, 4)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".mlops/accuracy")
