"""Your submission: implement the three modules nli.py, adasyn.py and fraud.py."""
