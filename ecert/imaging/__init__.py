"""QR codes as pictures: drawing them (segno) and reading them from photos (zxing-cpp, Pillow)."""
