"""Writes the inspection tests' frames: test/fixtures/inspect/*.jpg and manifest.json.

For each surface, one defect-free frame and one frame per listed defect type, taken in order from
the held-out set (heldout.py: seeds and texture pixels never used in training), saved as JPEG
quality 92, as a camera would send them.

  /usr/bin/python3 models/inspect/fixtures.py [--types hole,stain]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'inspect')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--types', default='hole')
    parser.add_argument('--per-surface', type=int, default=40)
    args = parser.parse_args()
    wanted = args.types.split(',')
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, os.path.join(HERE, 'heldout.py'), '--out', folder, '--per-surface', str(args.per_surface)], check=True)
        with open(os.path.join(folder, 'manifest.json')) as handle:
            manifest = json.load(handle)
        chosen = []
        for surface in sorted({entry['surface'] for entry in manifest}):
            frames = [entry for entry in manifest if entry['surface'] == surface]
            picks = [next(entry for entry in frames if entry['defect'] is None)]
            for defect in wanted:
                picks.append(next(entry for entry in frames if entry['defect'] == defect and len(entry['boxes']) == 1))
            chosen.extend(picks)
        os.makedirs(OUT, exist_ok=True)
        fixtures = []
        for entry in chosen:
            name = f"{entry['surface']}-{entry['defect'] or 'good'}.jpg"
            Image.open(os.path.join(folder, entry['file'])).convert('RGB').save(os.path.join(OUT, name), quality=92)
            fixtures.append({'file': name, 'surface': entry['surface'], 'defect': entry['defect'], 'boxes': entry['boxes']})
        with open(os.path.join(OUT, 'manifest.json'), 'w') as handle:
            json.dump(fixtures, handle, indent=1)
            handle.write('\n')
        print(f'{len(fixtures)} fixtures in {os.path.normpath(OUT)}')


if __name__ == '__main__':
    main()
