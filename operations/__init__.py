"""Operating on recorded traffic: replay, reports, fine-tune export, label quality."""
