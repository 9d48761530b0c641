"""PostgreSQL major upgrade of the product's own cluster (issue 17): checks, the mode explained, the run."""
