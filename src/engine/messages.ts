// What the engine itself says (the questions live in flows/). Vietnamese is the
// source; other languages are reviewed files, flows/i18n/engine.<lang>.yaml,
// with exactly these keys. {n} and {max} are filled in by the engine.
export const VI_MESSAGES = {
  languageName: 'Tiếng Việt',
  languageSwitched: 'Đã chuyển sang tiếng Việt.',
  chooseHint: 'Xin vui lòng bấm một nút bên dưới hoặc gõ số từ 1 đến {n}.',
  yesNoHint: 'Xin vui lòng bấm "Có" hoặc "Không" (hoặc gõ 1 hay 2).',
  textEmpty: 'Xin vui lòng nhập nội dung trả lời.',
  textTooLong: 'Nội dung quá dài, xin vui lòng rút gọn trong {max} ký tự.',
  textRequired: 'Câu hỏi này cần có câu trả lời.',
  stuck: 'Có vẻ câu trả lời chưa đúng dạng. Ông/bà có thể bấm một nút dưới đây, hoặc bấm "Dừng khảo sát" nếu không muốn tiếp tục.',
  help:
    'Hướng dẫn: bấm nút hoặc gõ số thứ tự của câu trả lời. ' +
    'Gõ "quay lại" (/back) để sửa câu trước, "làm lại" (/restart) để bắt đầu lại, "dừng" (/stop) để dừng khảo sát, /lang để đổi ngôn ngữ.',
  cannotGoBack: 'Đây là câu hỏi đầu tiên, không thể quay lại.',
  wentBack: 'Ông/bà có thể trả lời lại câu hỏi trước.',
  restarted: 'Khảo sát được bắt đầu lại từ đầu.',
  stopped:
    'Đã dừng khảo sát. Cảm ơn ông/bà đã dành thời gian; ông/bà sẽ không nhận thêm tin nhắn nhắc nhở. ' +
    'Các câu trả lời đã có vẫn được giữ: nếu muốn tiếp tục, ông/bà gửi lại mã khảo sát hoặc quét lại mã QR trên phiếu.',
  staleButton: 'Câu hỏi đó đã được trả lời. Mời ông/bà trả lời câu hỏi hiện tại:',
  alreadyCompleted: 'Khảo sát này đã hoàn thành. Cảm ơn ông/bà!',
  alreadyStopped: 'Khảo sát này đã dừng. Nếu muốn tiếp tục từ câu đã dừng, ông/bà gửi lại mã khảo sát hoặc quét lại mã QR trên phiếu.',
  resumedAfterStop: 'Mời ông/bà tiếp tục khảo sát từ câu đã dừng. Các câu trả lời trước vẫn được giữ.',
  reminder: 'Nhắc nhở: ông/bà chưa hoàn thành phiếu khảo sát. Xin mời tiếp tục trả lời câu hỏi dưới đây.',
  skipLabel: 'Bỏ qua',
  backLabel: '« Quay lại',
  stopLabel: 'Dừng khảo sát',
  yes: 'Có',
  no: 'Không',
};

export type Messages = typeof VI_MESSAGES;
export type MessageKey = keyof Messages;
export const MESSAGE_KEYS = Object.keys(VI_MESSAGES) as MessageKey[];
/** The language flows are written in. */
export const SOURCE_LANGUAGE = 'vi';
