"""Parental fees (fees.md): statute versions, monthly assessment, debit run, corrections."""
