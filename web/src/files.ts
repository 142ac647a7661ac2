/** Files from a drop (files and whole folders) or from the pickers, with their path inside a folder. */

export interface PickedFile {
  file: File;
  name: string;
}

/** Inside a dropped or picked folder, only images are sent; a file dropped on its own is always sent (the API explains a refusal). */
const isImage = (file: File) => file.type.startsWith('image/');

export function fromInput(input: HTMLInputElement, folder: boolean): PickedFile[] {
  const files = [...(input.files ?? [])];
  return files
    .filter((file) => !folder || isImage(file))
    .map((file) => ({ file, name: (folder && file.webkitRelativePath) || file.name }));
}

export async function fromDrop(transfer: DataTransfer): Promise<PickedFile[]> {
  // Entries must be taken synchronously, before the drop event returns.
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return [...transfer.files].map((file) => ({ file, name: file.name }));
  const picked: PickedFile[] = [];
  for (const entry of entries) {
    if (entry.isFile) picked.push({ file: await fileOf(entry as FileSystemFileEntry), name: entry.name });
    else picked.push(...(await walk(entry as FileSystemDirectoryEntry)).filter((p) => isImage(p.file)));
  }
  return picked;
}

const fileOf = (entry: FileSystemFileEntry) => new Promise<File>((resolve, reject) => entry.file(resolve, reject));

async function walk(directory: FileSystemDirectoryEntry): Promise<PickedFile[]> {
  const reader = directory.createReader();
  const picked: PickedFile[] = [];
  // readEntries returns the listing in chunks (100 in Chrome) until an empty one.
  for (;;) {
    const chunk = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (chunk.length === 0) return picked;
    for (const entry of chunk) {
      if (entry.isFile) picked.push({ file: await fileOf(entry as FileSystemFileEntry), name: entry.fullPath.replace(/^\//, '') });
      else picked.push(...(await walk(entry as FileSystemDirectoryEntry)));
    }
  }
}
